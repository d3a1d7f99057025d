package pipelinetest

import (
	"os"
	"testing"

	"github.com/network-traffic/network-traffic/internal/estest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	estest.RemoveBuilt()
	os.Exit(code)
}
