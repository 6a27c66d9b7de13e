package runtime

import "sync/atomic"

// counters are the traffic totals of a frontend, backend or server, for
// the statistics, logs and the Prometheus exporter. Safe for concurrent
// use; plain atomics, so that worker processes can share them
// (shm.Region).
type counters struct {
	sessions atomic.Int64 // connections (frontend) or requests given to it (backend, server)
	requests atomic.Int64 // HTTP requests
	cur      atomic.Int64 // connections being served (frontend), for %fc
	// idle are the frontend's keep-alive connections parked between two
	// requests (parker): with cur, the connections open on it.
	idle     atomic.Int64
	resp     [6]atomic.Int64
	logLines atomic.Int64 // lines logged (a frontend's %lc)
}

// respClasses label the response counters: 1xx to 5xx, and "other".
var respClasses = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// response counts a response with status.
func (c *counters) response(status int) {
	i := status/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	c.resp[i].Add(1)
}
