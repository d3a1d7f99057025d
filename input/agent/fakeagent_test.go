package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	gproto "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/elastic/elastic-agent-client/v7/pkg/client/chunk"
	"github.com/elastic/elastic-agent-client/v7/pkg/client/mock"
	"github.com/elastic/elastic-agent-client/v7/pkg/proto"
)

// fakeAgent plays Elastic Agent over real gRPC with mutual TLS. Actions and
// diagnostics are the client library's mock.StubServerV2; the check-in
// stream is ours so that the agent can push a new expected state at any time
// (the mock only answers observed messages).
type fakeAgent struct {
	*mock.StubServerV2
	t     *testing.T
	srv   *grpc.Server
	addr  string
	token string
	name  string // TLS server name

	caPEM, clientCert, clientKey []byte

	mu       sync.Mutex
	order    []string
	expected map[string]*proto.UnitExpected
	observed map[string]*proto.UnitObserved
	history  map[string][]string // "STATE message"
	version  *proto.CheckinObservedVersionInfo
	connects int
	badToken int
	push     chan struct{}
	changed  *sync.Cond
	dropNext bool // close the next check-in stream (agent restart)
}

func newFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	a := &fakeAgent{
		StubServerV2: &mock.StubServerV2{
			ActionsChan: make(chan *mock.PerformAction, 16),
			SentActions: map[string]*mock.PerformAction{},
			ActionImpl:  func(*proto.ActionResponse) error { return nil },
		},
		t: t, token: randHex(8), name: "agent-" + randHex(4) + ".local",
		expected: map[string]*proto.UnitExpected{}, observed: map[string]*proto.UnitObserved{},
		history: map[string][]string{}, push: make(chan struct{}, 1),
	}
	a.changed = sync.NewCond(&a.mu)
	serverTLS := a.makeCerts()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a.addr = ln.Addr().String()
	a.srv = grpc.NewServer(grpc.Creds(credentials.NewTLS(serverTLS)))
	proto.RegisterElasticAgentServer(a.srv, a)
	go a.srv.Serve(ln)
	t.Cleanup(a.srv.Stop)
	return a
}

// startUpInfo is what the agent writes to the component's stdin.
func (a *fakeAgent) startUpInfo() []byte {
	b, err := gproto.Marshal(&proto.StartUpInfo{
		Addr: a.addr, ServerName: a.name, Token: a.token,
		CaCert: a.caPEM, PeerCert: a.clientCert, PeerKey: a.clientKey,
		Services:  []proto.ConnInfoServices{proto.ConnInfoServices_CheckinV2},
		AgentInfo: &proto.AgentInfo{Id: "agent-id-1234", Version: "9.1.0", Snapshot: false, Mode: proto.AgentManagedMode_MANAGED},
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return b
}

func (a *fakeAgent) CheckinV2(server proto.ElasticAgent_CheckinV2Server) error {
	a.mu.Lock()
	a.connects++
	a.mu.Unlock()
	obsCh := make(chan *proto.CheckinObserved)
	errCh := make(chan error, 1)
	go func() {
		for {
			obs, err := chunk.RecvObserved(server)
			if err != nil {
				errCh <- err
				return
			}
			select {
			case obsCh <- obs:
			case <-server.Context().Done():
				return
			}
		}
	}()
	for {
		select {
		case err := <-errCh:
			return err
		case obs := <-obsCh:
			if obs.Token != a.token {
				a.mu.Lock()
				a.badToken++
				a.mu.Unlock()
				return fmt.Errorf("bad token")
			}
			a.observe(obs)
		case <-a.push:
		}
		a.mu.Lock()
		drop := a.dropNext
		a.dropNext = false
		a.mu.Unlock()
		if drop {
			return nil // the client reconnects
		}
		if err := server.Send(a.expectedMsg()); err != nil {
			return err
		}
	}
}

func (a *fakeAgent) observe(obs *proto.CheckinObserved) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if obs.VersionInfo != nil {
		a.version = obs.VersionInfo
	}
	seen := map[string]bool{}
	for _, u := range obs.Units {
		seen[u.Id] = true
		prev := a.observed[u.Id]
		line := u.State.String() + " " + u.Message
		if prev == nil || prev.State != u.State || prev.Message != u.Message {
			a.history[u.Id] = append(a.history[u.Id], line)
		}
		a.observed[u.Id] = u
		// A unit expected STOPPED that reports STOPPED is dropped, as the
		// agent does.
		if e := a.expected[u.Id]; e != nil && e.State == proto.State_STOPPED && u.State == proto.State_STOPPED {
			delete(a.expected, u.Id)
			a.order = remove(a.order, u.Id)
		}
	}
	for id := range a.observed {
		if !seen[id] {
			delete(a.observed, id)
			a.history[id] = append(a.history[id], "GONE")
		}
	}
	a.changed.Broadcast()
}

func remove(list []string, id string) []string {
	out := list[:0]
	for _, x := range list {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func (a *fakeAgent) expectedMsg() *proto.CheckinExpected {
	a.mu.Lock()
	defer a.mu.Unlock()
	msg := &proto.CheckinExpected{
		AgentInfo: &proto.AgentInfo{Id: "agent-id-1234", Version: "9.1.0", Mode: proto.AgentManagedMode_MANAGED},
	}
	for _, id := range a.order {
		e := a.expected[id]
		ue := &proto.UnitExpected{Id: e.Id, Type: e.Type, State: e.State, ConfigStateIdx: e.ConfigStateIdx, LogLevel: e.LogLevel}
		if o := a.observed[id]; o == nil || o.ConfigStateIdx != e.ConfigStateIdx {
			ue.Config = e.Config
		}
		msg.Units = append(msg.Units, ue)
	}
	return msg
}

func (a *fakeAgent) kick() {
	select {
	case a.push <- struct{}{}:
	default:
	}
}

// setUnit adds or changes a unit; its config index grows on every call.
func (a *fakeAgent) setUnit(id string, typ proto.UnitType, src map[string]any, level proto.UnitLogLevel) {
	a.t.Helper()
	st, err := structpb.NewStruct(src)
	if err != nil {
		a.t.Fatal(err)
	}
	cfg := &proto.UnitExpectedConfig{Source: st}
	cfg.Id, _ = src["id"].(string)
	cfg.Type, _ = src["type"].(string)
	a.mu.Lock()
	e := a.expected[id]
	if e == nil {
		e = &proto.UnitExpected{Id: id, Type: typ}
		a.expected[id] = e
		a.order = append(a.order, id)
	}
	e.State = proto.State_HEALTHY
	e.ConfigStateIdx++
	e.Config = cfg
	e.LogLevel = level
	a.mu.Unlock()
	a.kick()
}

func (a *fakeAgent) setLogLevel(id string, level proto.UnitLogLevel) {
	a.mu.Lock()
	a.expected[id].LogLevel = level
	a.mu.Unlock()
	a.kick()
}

func (a *fakeAgent) stopUnit(id string) {
	a.mu.Lock()
	if e := a.expected[id]; e != nil {
		e.State = proto.State_STOPPED
	}
	a.mu.Unlock()
	a.kick()
}

// waitUnit waits until the unit reports want at its current config index
// and returns what it reported.
func (a *fakeAgent) waitUnit(id string, want proto.State, timeout time.Duration) *proto.UnitObserved {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() { a.mu.Lock(); a.changed.Broadcast(); a.mu.Unlock() })
	defer timer.Stop()
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		o := a.observed[id]
		e := a.expected[id]
		if o != nil && o.State == want && (e == nil || o.ConfigStateIdx == e.ConfigStateIdx) {
			return gproto.Clone(o).(*proto.UnitObserved)
		}
		if time.Now().After(deadline) {
			got := "nothing"
			if o != nil {
				got = fmt.Sprintf("%s %q idx %d", o.State, o.Message, o.ConfigStateIdx)
			}
			a.t.Fatalf("unit %s: want %s, have %s; history %q", id, want, got, a.history[id])
		}
		a.changed.Wait()
	}
}

// waitGone waits until the component no longer reports the unit.
func (a *fakeAgent) waitGone(id string, timeout time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		_, there := a.observed[id]
		_, exp := a.expected[id]
		a.mu.Unlock()
		if !there && !exp {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.t.Fatalf("unit %s still reported; history %q", id, a.historyOf(id))
}

func (a *fakeAgent) historyOf(id string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.history[id]...)
}

func (a *fakeAgent) unitIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	for id := range a.observed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// streamStatus reads streams.<id>.{status,error} from a unit payload.
func streamStatus(o *proto.UnitObserved, stream string) (string, string) {
	if o.Payload == nil {
		return "", ""
	}
	ss := o.Payload.AsMap()["streams"]
	m, _ := ss.(map[string]any)
	s, _ := m[stream].(map[string]any)
	st, _ := s["status"].(string)
	e, _ := s["error"].(string)
	return st, e
}

func historyHas(h []string, states ...string) bool {
	i := 0
	for _, line := range h {
		if i < len(states) && strings.HasPrefix(line, states[i]) {
			i++
		}
	}
	return i == len(states)
}

// makeCerts creates a CA, a server certificate for a.name and a client
// certificate; the server requires the client certificate.
func (a *fakeAgent) makeCerts() *tls.Config {
	a.t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake agent CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		a.t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	a.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	leaf := func(cn string, usage x509.ExtKeyUsage, dns []string) ([]byte, []byte) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{
			SerialNumber: sn, Subject: pkix.Name{CommonName: cn}, DNSNames: dns,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			a.t.Fatal(err)
		}
		kd, _ := x509.MarshalECPrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	}
	sc, sk := leaf(a.name, x509.ExtKeyUsageServerAuth, []string{a.name})
	a.clientCert, a.clientKey = leaf("network-traffic", x509.ExtKeyUsageClientAuth, nil)
	pair, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		a.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
