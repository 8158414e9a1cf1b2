package proc

import (
	"os"
	"testing"
)

func TestParseVmRSS(t *testing.T) {
	got, err := ParseVmRSS("Name:\tx\nVmPeak:\t  999 kB\nVmRSS:\t   1234 kB\nThreads: 3\n")
	if err != nil || got != 1234*1024 {
		t.Fatalf("ParseVmRSS = %d, %v; want %d bytes", got, err, 1234*1024)
	}
	for _, bad := range []string{"Name: x\n", "VmRSS: 12 MB\n", "VmRSS: x kB\n"} {
		if _, err := ParseVmRSS(bad); err == nil {
			t.Errorf("ParseVmRSS(%q) succeeded", bad)
		}
	}
	// This process is resident and has used CPU.
	if rss, err := VmRSS(os.Getpid()); err != nil || rss < 1<<20 {
		t.Fatalf("VmRSS(self) = %d, %v", rss, err)
	}
	if _, err := CPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestMedian(t *testing.T) {
	xs := []float64{5, 1, 3, 2}
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{7}, 7}, {[]float64{3, 1, 2}, 2}, {xs, 2.5}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v; want %v", c.in, got, c.want)
		}
	}
	if xs[0] != 5 {
		t.Fatal("Median sorted its argument")
	}
}
