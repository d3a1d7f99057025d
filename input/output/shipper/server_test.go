package shipper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/elastic/elastic-agent-shipper-client/pkg/proto"
	"github.com/elastic/elastic-agent-shipper-client/pkg/proto/messages"
)

// store outlives shipper processes: it is "Elasticsearch" behind the
// shipper, keyed by the metadata _id as the shipper's ES output would.
type store struct {
	mu    sync.Mutex
	docs  map[string]*messages.Event
	dupes int
}

func newStore() *store { return &store{docs: map[string]*messages.Event{}} }

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs)
}

// testShipper is one shipper process built on the generated
// ProducerServer interface. Accepted events sit in a volatile queue until
// the persist loop writes them to the store; killing the process loses
// that queue (and the client must resend).
type testShipper struct {
	pb.UnimplementedProducerServer
	uuid  string
	st    *store
	srv   *grpc.Server
	ln    net.Listener
	mu    sync.Mutex
	queue []*messages.Event
	index int64 // accepted
	pers  int64 // persisted
	// capacity limits accepted-not-persisted events (ResourceExhausted
	// beyond, partial accept at the edge).
	capacity int
	stop     chan struct{}
	requests int
}

func startShipper(t *testing.T, addr string, st *store, persistEvery time.Duration) *testShipper {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old listener may take a moment to go
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := &testShipper{uuid: hex.EncodeToString(id[:]), st: st, ln: ln, srv: grpc.NewServer(), capacity: 200, stop: make(chan struct{})}
	pb.RegisterProducerServer(s.srv, s)
	go s.srv.Serve(ln)
	go func() {
		tk := time.NewTicker(persistEvery)
		defer tk.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tk.C:
				s.persist()
			}
		}
	}()
	return s
}

func (s *testShipper) persist() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.mu.Lock()
	for _, ev := range s.queue {
		id := ev.Metadata.Data["_id"].GetStringValue()
		if _, dup := s.st.docs[id]; dup {
			s.st.dupes++
			continue
		}
		s.st.docs[id] = ev
	}
	s.st.mu.Unlock()
	s.pers += int64(len(s.queue))
	s.queue = nil
}

// kill stops the process abruptly: connections cut, volatile queue lost.
func (s *testShipper) kill() {
	close(s.stop)
	s.srv.Stop()
	s.mu.Lock()
	s.queue = nil
	s.mu.Unlock()
}

func (s *testShipper) PublishEvents(_ context.Context, req *messages.PublishRequest) (*messages.PublishReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	reply := &messages.PublishReply{Uuid: s.uuid, AcceptedIndex: s.index, PersistedIndex: s.pers}
	if req.Uuid != "" && req.Uuid != s.uuid {
		return reply, nil // stale client: accept nothing, tell it who we are
	}
	room := s.capacity - len(s.queue)
	if room <= 0 && len(req.Events) > 0 {
		return nil, status.Error(codes.ResourceExhausted, "queue is full")
	}
	n := min(room, len(req.Events))
	s.queue = append(s.queue, req.Events[:n]...)
	s.index += int64(n)
	reply.AcceptedCount = int32(n)
	reply.AcceptedIndex = s.index
	return reply, nil
}

func (s *testShipper) PersistedIndex(_ *messages.PersistedIndexRequest, stream pb.Producer_PersistedIndexServer) error {
	for {
		s.mu.Lock()
		r := &messages.PersistedIndexReply{Uuid: s.uuid, PersistedIndex: s.pers}
		s.mu.Unlock()
		if err := stream.Send(r); err != nil {
			return err
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-s.stop:
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}
