package abidump

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/compatgate/compatgate/elfdiff"
	"github.com/compatgate/compatgate/elfdiff/pubheaders"
)

// headSize is how much of a file IsDump looks at.
const headSize = 512

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// IsDump reports whether the file at path is an ABI dump, plain or
// gzip-compressed, by its contents: a JSON object whose first field is
// "format": "compatgate-abi-dump". Any other file, an ELF library among
// them, is not.
func IsDump(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, err := peekHead(br)
	if err != nil {
		return false, nil // not gzip after all, or unreadable: not a dump
	}
	return isDumpHead(head), nil
}

// peekHead returns the first bytes of the (decompressed) stream.
func peekHead(br *bufio.Reader) ([]byte, error) {
	if magic, _ := br.Peek(len(gzipMagic)); !bytes.Equal(magic, gzipMagic) {
		head, err := br.Peek(headSize)
		if errors.Is(err, io.EOF) || errors.Is(err, bufio.ErrBufferFull) {
			err = nil
		}
		return head, err
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, err
	}
	head := make([]byte, headSize)
	n, err := io.ReadFull(zr, head)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return head[:n], err
}

// isDumpHead reports whether head starts a dump: '{', then the "format"
// field with the dump's name, whitespace allowed between the tokens.
func isDumpHead(head []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(head))
	for _, want := range []any{json.Delim('{'), "format", Format} {
		tok, err := dec.Token()
		if err != nil || tok != want {
			return false
		}
	}
	return true
}

// headVersion returns the text of the "version" field when it is the
// second of the document, as compatgate writes it.
func headVersion(head []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(head))
	for range 3 { // '{', "format", its value
		if _, err := dec.Token(); err != nil {
			return "", false
		}
	}
	if key, err := dec.Token(); err != nil || key != "version" {
		return "", false
	}
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	return string(v), true
}

// Load reads the file at path: an ABI dump (see IsDump), or else a shared
// library, read with opts. It reports whether the file was a dump. A dump
// carries its debug information: of opts, only NoDebugInfo applies to it,
// dropping that information.
func Load(path string, opts elfdiff.LoadOptions) (c *elfdiff.Corpus, dump bool, err error) {
	dump, err = IsDump(path)
	if err != nil {
		return nil, false, err
	}
	if !dump {
		c, err = elfdiff.LoadWith(path, opts)
		return c, false, err
	}
	c, err = ReadFile(path)
	if err != nil {
		return nil, true, err
	}
	if opts.NoDebugInfo {
		c.Debug, c.ReadOnly = nil, nil
	}
	return c, true, nil
}

// ReadFile reads the dump at path, plain or gzip-compressed. Errors name
// the file and say, in one line, what is wrong with it.
func ReadFile(path string) (*elfdiff.Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("reading ABI dump %s: %w", path, err)
	}
	return c, nil
}

// Read reads a dump, plain or gzip-compressed, into a corpus, which
// compares as the library it was written from. Malformed input gives an
// error, never a panic.
func Read(r io.Reader) (*elfdiff.Corpus, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var in io.Reader = br
	if magic, _ := br.Peek(len(gzipMagic)); bytes.Equal(magic, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("corrupt gzip: %w", err)
		}
		in = zr
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("corrupt or truncated gzip: %w", err)
	}
	if !isDumpHead(data[:min(len(data), headSize)]) {
		return nil, fmt.Errorf("not an ABI dump: it does not start with {\"format\": %q", Format)
	}
	version, ok := headVersion(data[:min(len(data), headSize)])
	if !ok {
		// Not second, as compatgate writes it: look in the whole document.
		var v struct {
			Version json.RawMessage `json:"version"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("corrupt or truncated dump: %w", err)
		}
		version = string(v.Version)
	}
	n, err := strconv.Atoi(version)
	switch {
	case err != nil || n < 1:
		return nil, fmt.Errorf("invalid schema version %s", cmp.Or(version, "(none)"))
	case n > Version:
		return nil, fmt.Errorf("schema version %d is newer than this compatgate reads (1 to %d): upgrade compatgate", n, Version)
	}
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("corrupt or truncated dump: %w", err)
	}
	return decode(&d)
}

// The symbol attributes an encoded symbol leaves out.
const (
	defaultBind       = elf.STB_GLOBAL
	defaultVisibility = elf.STV_DEFAULT
)

// decode converts a document into a corpus.
func decode(d *document) (*elfdiff.Corpus, error) {
	lib := d.Library
	class, ok := parseName(lib.Class, 1<<8, elf.Class.String)
	if !ok || (class != elf.ELFCLASS32 && class != elf.ELFCLASS64) {
		return nil, fmt.Errorf("library: unknown ELF class %q", lib.Class)
	}
	machine, ok := parseName(lib.Machine, 1<<16, elf.Machine.String)
	if !ok {
		return nil, fmt.Errorf("library: unknown machine %q", lib.Machine)
	}
	c := elfdiff.Corpus{
		Path: lib.Path, Class: class, Machine: machine, SONAME: lib.SONAME, Needed: lib.Needed,
		BuildID: lib.BuildID, Versions: lib.Versions, Notes: lib.Notes,
	}
	syms, err := decodeSymbols(d.Symbols, "symbols")
	if err != nil {
		return nil, err
	}
	if c.Undefined, err = decodeSymbols(d.Undefined, "undefined"); err != nil {
		return nil, err
	}
	if d.Hidden != nil {
		c.Hidden = make(map[string]bool, len(d.Hidden))
		for _, name := range d.Hidden {
			c.Hidden[name] = true
		}
	}
	if d.ReadOnly != nil {
		c.ReadOnly = make(map[string][]byte, len(d.ReadOnly))
		for k, v := range d.ReadOnly {
			b, err := hex.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("read_only %q: %w", k, err)
			}
			c.ReadOnly[k] = b
		}
	}
	if d.CXX != nil {
		c.CXX = decodeCXX(d.CXX)
	}
	if h := d.Headers; h != nil {
		c.Headers = pubheaders.Restore(h.Origin, h.Files, h.Idents, h.Defined)
	}
	if d.Debug != nil {
		if c.Debug, err = decodeDebug(d.Debug); err != nil {
			return nil, fmt.Errorf("debug: %w", err)
		}
	}
	return elfdiff.NewCorpus(c, syms), nil
}

func decodeSymbols(in []symbol, list string) ([]elfdiff.Symbol, error) {
	out := make([]elfdiff.Symbol, 0, len(in))
	for i, s := range in {
		typ, ok1 := parseName(s.Type, 16, elf.SymType.String)
		bind, ok2 := defaultBind, true
		if s.Bind != "" {
			bind, ok2 = parseName(s.Bind, 16, elf.SymBind.String)
		}
		vis, ok3 := defaultVisibility, true
		if s.Visibility != "" {
			vis, ok3 = parseName(s.Visibility, 4, elf.SymVis.String)
		}
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("%s[%d] (%s): unknown type, binding or visibility %q %q %q", list, i, s.Name, s.Type, s.Bind, s.Visibility)
		}
		out = append(out, elfdiff.Symbol{Name: s.Name, Version: s.Version, Default: s.Default, Type: typ,
			Bind: bind, Visibility: vis, Size: s.Size, Value: s.Value})
	}
	return out, nil
}

// parseName returns the value below n whose String is name.
func parseName[T ~uint8 | ~uint16 | ~int](name string, n int, str func(T) string) (T, bool) {
	for i := range n {
		if str(T(i)) == name {
			return T(i), true
		}
	}
	return 0, false
}
