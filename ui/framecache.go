package ui

// frameCache keeps the strings the last frame computed (styled tree lines,
// lines fitted to the screen), keyed by everything they depend on. A frame
// follows every message the program handles and most frames repeat the
// last one almost line for line, so with the cache a frame costs what
// changed on screen. Entries the last frame did not use are dropped at the
// next begin: the cache holds about a screenful. It is shared, through a
// pointer, by the copies bubbletea makes of the models, which is safe
// because an entry is a pure function of its key. Its methods accept a nil
// cache, which caches nothing.
type frameCache[K comparable] struct {
	prev, next map[K]string
}

// begin starts a frame. The maps are reused, not reallocated.
func (c *frameCache[K]) begin() {
	if c == nil {
		return
	}
	if len(c.next) > 0 {
		c.prev, c.next = c.next, c.prev
	}
	if c.next == nil {
		c.next = map[K]string{}
	}
	clear(c.next)
}

// reset forgets everything, for when what the entries depend on besides
// their keys (the styles, the width) has changed.
func (c *frameCache[K]) reset() {
	clear(c.prev)
	clear(c.next)
}

func (c *frameCache[K]) get(k K) (string, bool) {
	if c == nil {
		return "", false
	}
	if s, ok := c.prev[k]; ok {
		c.put(k, s)
		return s, true
	}
	s, ok := c.next[k]
	return s, ok
}

func (c *frameCache[K]) put(k K, s string) {
	if c != nil && c.next != nil {
		c.next[k] = s
	}
}
