package runtime

import (
	"sync/atomic"
	"testing"

	"gohap/runtime/rules"
)

// BenchmarkRoundRobinPick is the roundrobin pick path in steady state:
// one process alone, and two workers over one shared region.
func BenchmarkRoundRobinPick(b *testing.B) {
	weights := []int{3, 1, 2, 5}
	for _, algo := range []rules.Algo{rules.AlgoRoundRobin, rules.AlgoStaticRR} {
		b.Run(algo.String(), func(b *testing.B) {
			bs := pool(algo, weights, 0)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bs.pick(lbKey{}, nil)
				}
			})
		})
		b.Run(algo.String()+"/workers=2", func(b *testing.B) {
			pools, _ := sharedPools(algo, weights, 2)
			var n atomic.Int32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				bs := pools[int(n.Add(1))%len(pools)]
				for pb.Next() {
					bs.pick(lbKey{}, nil)
				}
			})
		})
	}
}

// TestWorkersPickAllocs: a worker's pick allocates nothing either.
func TestWorkersPickAllocs(t *testing.T) {
	for _, algo := range []rules.Algo{rules.AlgoRoundRobin, rules.AlgoStaticRR} {
		pools, _ := sharedPools(algo, []int{1, 2, 3}, 2)
		if n := testing.AllocsPerRun(100, func() { pools[0].pick(lbKey{}, nil); pools[1].pick(lbKey{}, nil) }); n != 0 {
			t.Errorf("%s: %v allocs per pick", algo, n)
		}
	}
}
