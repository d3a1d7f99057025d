// Package shipperfake is an in-process Elastic Agent shipper for tests, built
// on the generated ProducerServer interface of elastic-agent-shipper-client
// and served over real gRPC. Accepted events wait in a volatile queue until a
// persist loop writes them to a Store (which outlives the process, like the
// Elasticsearch behind a real shipper); Kill loses that queue.
package shipperfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/elastic/elastic-agent-shipper-client/pkg/proto"
	"github.com/elastic/elastic-agent-shipper-client/pkg/proto/messages"
)

// store outlives shipper processes: it is "Elasticsearch" behind the
// shipper, keyed by the metadata _id as the shipper's ES output would.
type Store struct {
	mu    sync.Mutex
	docs  map[string]*messages.Event
	dupes int
}

// NewStore makes an empty store.
func NewStore() *Store { return &Store{docs: map[string]*messages.Event{}} }

// Count is the number of distinct events persisted.
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.docs)
}

// Dupes counts events persisted again under an _id already stored.
func (s *Store) Dupes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dupes
}

// Events returns the persisted events.
func (s *Store) Events() []*messages.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*messages.Event, 0, len(s.docs))
	for _, e := range s.docs {
		out = append(out, e)
	}
	return out
}

// Server is one shipper process built on the generated
// ProducerServer interface. Accepted events sit in a volatile queue until
// the persist loop writes them to the store; killing the process loses
// that queue (and the client must resend).
type Server struct {
	pb.UnimplementedProducerServer
	uuid  string
	st    *Store
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

// Start serves on addr ("127.0.0.1:0" for any port), persisting every
// persistEvery. A restart on the same address gets a new uuid.
func Start(addr string, st *Store, persistEvery time.Duration) (*Server, error) {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old listener may take a moment to go
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("shipperfake: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := &Server{uuid: hex.EncodeToString(id[:]), st: st, ln: ln, srv: grpc.NewServer(), capacity: 200, stop: make(chan struct{})}
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
	return s, nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Queued is the number of accepted, unpersisted events.
func (s *Server) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// KillWhen kills the process if cond(queued, stored) holds, atomically with
// the check (so the queue cannot be persisted in between).
func (s *Server) KillWhen(cond func(queued, stored int) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !cond(len(s.queue), s.st.Count()) {
		return false
	}
	close(s.stop)
	s.srv.Stop()
	s.queue = nil
	return true
}

func (s *Server) persist() {
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

// Kill stops the process abruptly: connections cut, volatile queue lost.
func (s *Server) Kill() {
	close(s.stop)
	s.srv.Stop()
	s.mu.Lock()
	s.queue = nil
	s.mu.Unlock()
}

func (s *Server) PublishEvents(_ context.Context, req *messages.PublishRequest) (*messages.PublishReply, error) {
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

func (s *Server) PersistedIndex(_ *messages.PersistedIndexRequest, stream pb.Producer_PersistedIndexServer) error {
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
