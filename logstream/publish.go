package logstream

// Publish feeds lines made in kaj itself to the viewers of key, with the
// same fan-out, backlog and skip rules as a container's log: the coming
// router's per-app access log is such a source. The hub numbers the
// lines (Seq) and takes the slice's lines as they are otherwise; lines
// should come in time order. Publish with no lines declares the key, so
// that viewers can subscribe before the first line.
//
// key is the caller's name for its source and must never be a container
// ID or name, or Subscribe would find the published stream for that
// container: pick a form the engine cannot use, such as
// "access/<app>". A published key lives, with its backlog, as long as
// the hub. Publish never blocks on viewers.
func (h *Hub) Publish(key string, lines ...Line) {
	h.mu.Lock()
	st := h.streams[key]
	if st == nil || !st.local {
		if st != nil {
			// A container stream under the same key: the caller broke
			// the contract; the published stream takes the key over.
			st.mu.Lock()
			st.stopping = true
			st.mu.Unlock()
			st.cancel()
		}
		st = &stream{hub: h, key: key, local: true, ready: make(chan struct{}), subs: map[*Subscription]struct{}{}, cancel: func() {}}
		close(st.ready)
		h.streams[key] = st
	}
	h.mu.Unlock()
	if len(lines) == 0 {
		return
	}
	st.publish(append([]Line(nil), lines...), false)
}
