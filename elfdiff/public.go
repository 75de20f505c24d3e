package elfdiff

// This file decides which types are part of the library's public API:
// those defined in its public headers. Changes inside the others are not
// its clients' to see.

import (
	"github.com/compatgate/compatgate/elfdiff/abi"
	"github.com/compatgate/compatgate/elfdiff/pubheaders"

	"path/filepath"
	"strings"
)

// publicAPI says which types of the old corpus are public.
type publicAPI struct {
	debug   *abi.DebugInfo
	headers *pubheaders.Set // nil: infer from file names
}

// newPublicAPI judges by the old corpus's types — the ones clients were
// compiled against — and by its headers, or else the new one's.
func newPublicAPI(old, new *Corpus) publicAPI {
	h := old.Headers
	if h == nil {
		h = new.Headers
	}
	return publicAPI{debug: old.Debug, headers: h}
}

// private returns the file a struct, union, class or enum (reported as
// name) is defined in when that file is not a public header, else "".
// With public headers, a type defined anywhere else (a private header, a
// source file) is private unless it lies under a system include directory
// (the C library's and other libraries' types, which the library uses but
// does not own) or the headers define its name all the same (a library
// built from one amalgamated source file); without them, only a type
// defined in a source file is.
func (p publicAPI) private(t *abi.Type, name string) string {
	if t == nil || !(t.Kind.IsAggregate() || t.Kind == abi.EnumType) {
		return ""
	}
	file := p.debug.DeclFile(t)
	switch {
	case file == "":
		return ""
	case abi.IsSourceFile(file) && p.headers == nil:
		return file
	case p.headers == nil || p.headers.Has(file) || pubheaders.IsSystemHeader(file):
		return ""
	case name != "" && p.headers.Defines(simpleTag(name)):
		return "" // an amalgamation: public types defined in the one source file
	}
	return file
}

// simpleTag returns the last component of a C++ qualified name, without
// template arguments: "Box" for "ns::Box", "vector" for "std::vector<int>".
func simpleTag(name string) string {
	name = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(name, "struct "), "union "), "enum ")
	if i := strings.IndexByte(name, '<'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	return name
}

// markPrivate adds FactPrivate to the changes found in nd when its type
// is not public, and says why.
func (d *typeDiffer) markPrivate(nd *node) {
	if len(nd.local) == 0 {
		return
	}
	file := d.public.private(nd.o, nd.name)
	if file == "" {
		return
	}
	why := "; " + nd.name + " is defined in " + filepath.Base(file) + ", not in a public header"
	f := FactPrivate
	if d.public.headers == nil {
		f |= FactNoHeaders
	}
	for _, c := range nd.local {
		c.Facts |= f
		c.Detail += why
	}
}
