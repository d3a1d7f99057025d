package capture

import (
	"sync"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// prefetchSource reads a pcap file on its own goroutine, a batch of packets
// ahead of the decoder. Reading through libpcap (a cgo call per packet) is
// about a seventh of the work of decoding a file at top speed; this moves it
// off the capture goroutine, which is the bottleneck, onto the other core.
// Only files replayed at top speed use it: pacing and live captures need
// each packet as soon as it is read.
type prefetchSource struct {
	src   Source
	full  chan *packetBatch
	free  chan *packetBatch
	stop  chan struct{}
	ended chan struct{} // closed when the reader goroutine has returned

	cur *packetBatch
	idx int

	closeOnce sync.Once
}

// packetBatch holds copies of consecutive packets and, in the last batch,
// the error that ended the reading (io.EOF at the end of the file).
type packetBatch struct {
	data []byte
	pkts []batchedPacket
	err  error
}

type batchedPacket struct {
	start, end int
	ci         gopacket.CaptureInfo
}

const (
	prefetchBatchPackets = 128
	prefetchBatchBytes   = 128 << 10
	prefetchDepth        = 4 // batches in flight
)

func newPrefetchSource(src Source) *prefetchSource {
	p := &prefetchSource{
		src:   src,
		full:  make(chan *packetBatch, prefetchDepth),
		free:  make(chan *packetBatch, prefetchDepth+2),
		stop:  make(chan struct{}),
		ended: make(chan struct{}),
	}
	go p.read()
	return p
}

func (p *prefetchSource) read() {
	defer close(p.ended)
	for {
		var b *packetBatch
		select {
		case b = <-p.free:
			b.data, b.pkts = b.data[:0], b.pkts[:0]
		default:
			b = &packetBatch{data: make([]byte, 0, prefetchBatchBytes+65536), pkts: make([]batchedPacket, 0, prefetchBatchPackets)}
		}
		for len(b.pkts) < prefetchBatchPackets && len(b.data) < prefetchBatchBytes {
			data, ci, err := p.src.Next()
			if err != nil {
				b.err = err
				break
			}
			start := len(b.data)
			b.data = append(b.data, data...)
			b.pkts = append(b.pkts, batchedPacket{start: start, end: len(b.data), ci: ci})
		}
		select {
		case p.full <- b:
		case <-p.stop:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// Next returns the next packet; data is valid until the next call.
func (p *prefetchSource) Next() ([]byte, gopacket.CaptureInfo, error) {
	for p.cur == nil || p.idx == len(p.cur.pkts) {
		if p.cur != nil {
			if p.cur.err != nil {
				return nil, gopacket.CaptureInfo{}, p.cur.err
			}
			select {
			case p.free <- p.cur:
			default:
			}
		}
		p.cur, p.idx = <-p.full, 0
	}
	pk := p.cur.pkts[p.idx]
	p.idx++
	return p.cur.data[pk.start:pk.end:pk.end], pk.ci, nil
}

func (p *prefetchSource) LinkType() layers.LinkType { return p.src.LinkType() }

func (p *prefetchSource) PcapStats() (uint64, uint64, uint64, bool) { return p.src.PcapStats() }

// Close stops the reader and closes the file once the reader no longer
// uses it.
func (p *prefetchSource) Close() {
	p.closeOnce.Do(func() {
		close(p.stop)
		<-p.ended
		p.src.Close()
	})
}
