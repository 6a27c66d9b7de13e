//go:build gohap_pprof

package runtime

import (
	"log"
	"net/http"
	_ "net/http/pprof" // profiling endpoints, bench builds only
	"os"
)

// A bench-only build (go build -tags gohap_pprof) serves net/http/pprof on
// $GOHAP_PPROF (for example 127.0.0.1:6060) to profile gohap under load.
func init() {
	addr := os.Getenv("GOHAP_PPROF")
	if addr == "" {
		return
	}
	go func() { log.Println(http.ListenAndServe(addr, nil)) }()
}
