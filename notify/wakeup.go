package notify

import "sync"

// wakeup broadcasts "there may be work" to every loop waiting on it: Wake
// closes the channel the waiters took with C and puts a fresh one in its
// place. The zero value is ready.
type wakeup struct {
	mu sync.Mutex
	ch chan struct{}
}

// Wake wakes every loop waiting on a channel C returned before.
func (w *wakeup) Wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
	}
	w.ch = make(chan struct{})
}

// C is the channel the next Wake closes. Take it before looking for work,
// so a Wake during the look is not missed.
func (w *wakeup) C() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}
