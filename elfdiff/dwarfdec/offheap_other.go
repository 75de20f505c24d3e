//go:build !unix

package dwarfdec

// offHeap returns n zeroed bytes and the function that releases them: on
// the heap, where the platform has no anonymous mappings.
func offHeap(n uint64) ([]byte, func()) { return heapBuffer(n) }
