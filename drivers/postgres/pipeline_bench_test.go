package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPipeline compares the driver with pipelines=0 (every statement
// alone) and the default on a real server: a lone caller (the latency a
// quiet server sees: the pipeline's hand-off to its worker is all it can
// add) and 64 concurrent callers (where batches form), reading a session
// and reading then writing one, over 1000 sessions as the load harness
// does.
//
//	go test -run '^$' -bench Pipeline -benchmem ./drivers/postgres
func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	for _, pipelines := range []int{0, 2} {
		d := openDSN(b, dsnFor(b, "sweep_interval=-1s&max_conns=16&pipelines="+strconv.Itoa(pipelines)+"&table="+freshTable()))
		const n = 1000
		record := make([]byte, 250)
		for i := range n {
			if _, err := d.Save(ctx, fmt.Sprint("k", i), record, 0, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		load := func(i int) {
			if _, _, _, err := d.Load(ctx, fmt.Sprint("k", i%n)); err != nil {
				b.Error(err)
			}
		}
		loadSave := func(i int) {
			k := fmt.Sprint("k", i%n)
			_, v, _, err := d.Load(ctx, k)
			if err == nil {
				_, err = d.Save(ctx, k, record, v, time.Hour)
			}
			if err != nil {
				b.Error(err)
			}
		}
		for _, op := range []struct {
			name string
			fn   func(int)
		}{{"load", load}, {"load+save", loadSave}} {
			b.Run(fmt.Sprintf("pipelines=%d/%s/serial", pipelines, op.name), func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					op.fn(i)
				}
			})
			b.Run(fmt.Sprintf("pipelines=%d/%s/parallel64", pipelines, op.name), func(b *testing.B) {
				var seq atomic.Int64
				b.SetParallelism(32) // 64 goroutines on 2 cores
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						op.fn(int(seq.Add(1)))
					}
				})
			})
		}
	}
}
