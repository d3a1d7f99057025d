//go:build mage

// Developer tasks: `go run github.com/magefile/mage <target>` (or `mage
// <target>` with mage installed). `mage -l` lists them.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/network-traffic/network-traffic/internal/pkgbuild"
)

// Default target.
var Default = Build

func run(env map[string]string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	fmt.Println(">", name, strings.Join(args, " "))
	return cmd.Run()
}

// Build compiles build/network-traffic and puts the Elastic Agent component
// spec beside it.
func Build() error {
	version := "0.1.0-dev"
	if out, err := exec.Command("git", "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	if err := run(nil, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version,
		"-o", "build/network-traffic", "./cmd/network-traffic"); err != nil {
		return err
	}
	if spec, err := os.ReadFile("network-traffic.spec.yml"); err == nil {
		return os.WriteFile("build/network-traffic.spec.yml", spec, 0o644)
	}
	return nil
}

// Test runs every Go test once (no cache). Set NT_REQUIRE_ES=1 to make
// tests that need Elasticsearch fail instead of skip when it is absent.
func Test() error {
	return run(nil, "go", "test", "-count=1", "-timeout", "20m", "./...")
}

var fuzzFunc = regexp.MustCompile(`^func (Fuzz\w+)\(f \*testing\.F\)`)

// Fuzz runs every FuzzXxx target for FUZZTIME each (default 10s).
func Fuzz() error {
	fuzzTime := os.Getenv("FUZZTIME")
	if fuzzTime == "" {
		fuzzTime = "10s"
	}
	targets := map[string][]string{} // package dir -> targets
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "build" || d.Name() == "node_modules") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := fuzzFunc.FindStringSubmatch(sc.Text()); m != nil {
				dir := "./" + filepath.Dir(path)
				targets[dir] = append(targets[dir], m[1])
			}
		}
		return sc.Err()
	})
	if err != nil {
		return err
	}
	dirs := make([]string, 0, len(targets))
	for d := range targets {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var failed []string
	for _, dir := range dirs {
		for _, t := range targets[dir] {
			if err := fuzzOne(dir, t, fuzzTime); err != nil {
				failed = append(failed, err.Error())
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("fuzzing found failures:\n%s", strings.Join(failed, "\n"))
	}
	return nil
}

// fuzzOne runs one target. Go 1.26's fuzz coordinator can end a run that
// found nothing with a bare "context deadline exceeded" when -fuzztime
// expires while a worker is busy (golang/go#75804, fixed in Go 1.27). A
// real failure always writes a reproducer under testdata/fuzz/<target>, so
// a failing exit without a new reproducer is reported and tolerated.
func fuzzOne(dir, target, fuzzTime string) error {
	corpus := filepath.Join(dir, "testdata", "fuzz", target)
	before := map[string]bool{}
	if entries, err := os.ReadDir(corpus); err == nil {
		for _, e := range entries {
			before[e.Name()] = true
		}
	}
	var out strings.Builder
	// A short minimize time keeps multi-KB seeds (TLS, HTTP) from stalling
	// a short run in minimization.
	cmd := exec.Command("go", "test", "-run=^$", "-fuzz=^"+target+"$", "-fuzztime="+fuzzTime, "-fuzzminimizetime=2s", dir)
	cmd.Stdout = io.MultiWriter(os.Stdout, &out)
	cmd.Stderr = io.MultiWriter(os.Stderr, &out)
	fmt.Println(">", strings.Join(cmd.Args, " "))
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if entries, rerr := os.ReadDir(corpus); rerr == nil {
		for _, e := range entries {
			if !before[e.Name()] {
				return fmt.Errorf("%s %s: failing input %s", dir, target, filepath.Join(corpus, e.Name()))
			}
		}
	}
	if strings.Contains(out.String(), "context deadline exceeded") {
		fmt.Printf("fuzz %s %s: coordinator deadline race (golang/go#75804), no failing input written: not a failure\n", dir, target)
		return nil
	}
	return fmt.Errorf("%s %s: %v", dir, target, err)
}

// Bench builds the large mixed capture if missing (_dev/bench/make-capture.sh)
// and measures the binary on it, writing results to BENCHMARKS.md.
func Bench() error {
	return run(nil, "bash", "_dev/bench/run.sh")
}

// BenchShards measures flow-sharded decoding (1 worker on 1 core against 2
// on 2, and 1-8 workers' CPU per packet) on the mixed capture spread over
// address pairs (_dev/bench/shards.sh), writing results to BENCHMARKS.md.
func BenchShards() error {
	return run(nil, "bash", "_dev/bench/shards.sh")
}

// ES starts the local Elasticsearch-compatible node used by the tests
// (_dev/es/start.sh) and waits until it is healthy.
func ES() error {
	return run(nil, "bash", "_dev/es/start.sh")
}

// Package assembles the Fleet package into build/packages/network_traffic-<version>/ (and
// its .zip) from manifest.yml, changelog.yml, package/, fields/ and pipelines/, then runs
// Elastic's package-spec validator on it. Any validation error fails the target.
func Package() error {
	pkgDir, err := pkgbuild.Build(".", filepath.Join("build", "packages"))
	if err != nil {
		return fmt.Errorf("assemble package: %w", err)
	}
	if err := pkgbuild.Validate(pkgDir); err != nil {
		return err
	}
	fmt.Println("package OK:", pkgDir, "and", pkgDir+".zip")
	return nil
}
