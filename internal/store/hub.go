package store

import "sync"

// Hub keeps a process's listeners by topic, for the stores' Listen.
type Hub struct {
	mu   sync.Mutex
	next int
	subs map[string]map[int]func()
}

// Listen adds fn to topic's listeners; the returned function removes it.
func (h *Hub) Listen(topic string, fn func()) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[string]map[int]func(){}
	}
	if h.subs[topic] == nil {
		h.subs[topic] = map[int]func(){}
	}
	h.next++
	id := h.next
	h.subs[topic][id] = fn
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs[topic], id)
	}
}

// Publish calls topic's listeners.
func (h *Hub) Publish(topic string) {
	h.mu.Lock()
	fns := make([]func(), 0, len(h.subs[topic]))
	for _, fn := range h.subs[topic] {
		fns = append(fns, fn)
	}
	h.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Topics lists the topics with listeners.
func (h *Hub) Topics() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.subs))
	for t, m := range h.subs {
		if len(m) > 0 {
			out = append(out, t)
		}
	}
	return out
}
