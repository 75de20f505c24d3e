//go:build linux && amd64

package inject

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMaps(t *testing.T) {
	in := "55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 1234 /usr/bin/prog\n" +
		"7f0000000000-7f0000001000 r-xp 00001000 08:02 99 /opt/lib/libx.so.1 (deleted)\n" +
		"7f0000002000-7f0000003000 rw-p 00000000 00:00 0 \n" +
		"7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n" +
		"7f0000004000-7f0000005000 r--p 00000000 08:02 100 /tmp/a name with spaces\n"
	ms, err := parseMaps([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{
		{start: 0x55d0c0a00000, end: 0x55d0c0a01000, perms: "r--p", major: 0xfd, minor: 1, inode: 1234, path: "/usr/bin/prog"},
		{start: 0x7f0000000000, end: 0x7f0000001000, perms: "r-xp", offset: 0x1000, major: 8, minor: 2, inode: 99, path: "/opt/lib/libx.so.1", deleted: true},
		{start: 0x7f0000002000, end: 0x7f0000003000, perms: "rw-p"},
		{start: 0x7ffc00000000, end: 0x7ffc00021000, perms: "rw-p", path: "[stack]"},
		{start: 0x7f0000004000, end: 0x7f0000005000, perms: "r--p", major: 8, minor: 2, inode: 100, path: "/tmp/a name with spaces"},
	}
	if len(ms) != len(want) {
		t.Fatalf("got %d mappings, want %d", len(ms), len(want))
	}
	for i := range want {
		if ms[i] != want[i] {
			t.Errorf("mapping %d: got %+v, want %+v", i, ms[i], want[i])
		}
	}
	for _, bad := range []string{"garbage\n", "zz-10 r--p 0 00:00 0\n", "10-20 r--p 0 00:00\n"} {
		if _, err := parseMaps([]byte(bad)); err == nil {
			t.Errorf("parseMaps(%q) succeeded", bad)
		}
	}
}

// TestSlotWindow checks the one-word property: for every patch alignment
// and every original byte, a jump to any slot in the window changes only
// the word that contains the patch address.
func TestSlotWindow(t *testing.T) {
	orig := [8]byte{0x48, 0x8d, 0x05, 0x80, 0x7f, 0x11, 0x22, 0x33}
	for off := uint64(0); off < 8; off++ {
		p := 0x7f0000001000 + off
		lo, hi := slotWindow(p, orig)
		if hi <= lo {
			t.Fatalf("p%%8=%d: empty window", off)
		}
		for _, tr := range []uint64{lo, hi - 1, lo + (hi-lo)/2} {
			jmp := jmpBytes(p, tr)
			if got := p + 5 + uint64(int64(int32(binary.LittleEndian.Uint32(jmp[1:])))); got != tr {
				t.Fatalf("p%%8=%d: jump to %#x lands at %#x", off, tr, got)
			}
			for i := uint64(0); i < jmpLen; i++ {
				if (p+i)&^7 != p&^7 && jmp[i] != orig[i] {
					t.Errorf("p%%8=%d slot %#x: byte %d (%#x) in the next word differs from the original %#x", off, tr, i, jmp[i], orig[i])
				}
			}
		}
	}
}

func TestTrampPlanner(t *testing.T) {
	maps := []mapping{
		{start: 0x7f0000000000, end: 0x7f0000100000},
		{start: 0x7f0000200000, end: 0x7f0000201000},
		{start: 0x7ffd00000000, end: 0x7ffd00021000, path: "[stack]"},
	}
	pl := newTrampPlanner(maps)
	seen := map[uint64]bool{}
	for i := 0; i < 600; i++ { // more than one page of slots
		lo, hi := uint64(0x7f0000000000), uint64(0x7f0000300000)
		tr, err := pl.alloc(lo, hi, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if tr < lo || tr >= hi {
			t.Fatalf("slot %#x outside [%#x, %#x)", tr, lo, hi)
		}
		if _, ok := findMapping(maps, tr); ok {
			t.Fatalf("slot %#x inside an existing mapping", tr)
		}
		if tr%pageSize > pageSize-slotSize {
			t.Fatalf("slot %#x crosses a page", tr)
		}
		if seen[tr] {
			t.Fatalf("slot %#x given twice", tr)
		}
		seen[tr] = true
	}
	if _, err := pl.alloc(0x7f0000000100, 0x7f0000000200, 1); err == nil {
		t.Errorf("allocated a slot inside a mapping")
	}
}

func TestLooksLikeReturn(t *testing.T) {
	tests := []struct {
		name   string
		before [8]byte
		want   bool
	}{
		{"call rel32", [8]byte{0x90, 0x90, 0x90, 0xe8, 1, 2, 3, 4}, true},
		{"call *%rax", [8]byte{0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xd0}, true},
		{"call *0x10(%rip)", [8]byte{0x90, 0x90, 0xff, 0x15, 0x10, 0, 0, 0}, true},
		{"nops", [8]byte{0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90}, false},
		{"jmp rel32", [8]byte{0x90, 0x90, 0x90, 0xe9, 1, 2, 3, 4}, false},
	}
	for _, tt := range tests {
		if got := looksLikeReturn(tt.before); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	j, err := loadJournal(dir, 42, 777)
	if err != nil || len(j.Generations) != 0 {
		t.Fatalf("empty journal: %v %+v", err, j)
	}
	j.Generations = append(j.Generations, generation{
		State:  genApplied,
		Old:    Library{Path: "/a", BuildID: "aa"},
		New:    Library{Path: "/b", BuildID: "bb"},
		Writes: []wordWrite{{Addr: 0x1000, Old: hexWord{1, 2, 3, 4, 5, 6, 7, 8}, New: hexWord{0xe9, 0, 0, 0, 0, 6, 7, 8}, Symbols: []string{"f"}}},
	})
	if err := j.save(); err != nil {
		t.Fatal(err)
	}
	k, err := loadJournal(dir, 42, 777)
	if err != nil {
		t.Fatal(err)
	}
	kw, jw := k.Generations[0].Writes[0], j.Generations[0].Writes[0]
	if len(k.Generations) != 1 || kw.Addr != jw.Addr || kw.Old != jw.Old || kw.New != jw.New || kw.Symbols[0] != "f" {
		t.Fatalf("round trip: %+v", k.Generations)
	}
	if k.top("aa") != 0 || k.top("zz") != -1 {
		t.Errorf("top: %d %d", k.top("aa"), k.top("zz"))
	}
	// Another process with the same PID (other start time) has its own.
	if other, err := loadJournal(dir, 42, 778); err != nil || len(other.Generations) != 0 {
		t.Errorf("reused PID sees the journal: %v %+v", err, other)
	}
	k.Generations = nil
	if err := k.save(); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("files left: %v", m)
	}
}

func TestWorst(t *testing.T) {
	tests := []struct {
		in   []Status
		want Status
		ok   bool
	}{
		{nil, StatusOK, true},
		{[]Status{StatusOK, StatusNotLoaded, StatusNotChanged}, StatusNotLoaded, true},
		{[]Status{StatusOK, StatusBusy}, StatusBusy, false},
		{[]Status{StatusRefused, StatusBusy}, StatusRefused, false},
		{[]Status{StatusError, StatusRefused, StatusOK}, StatusError, false},
	}
	for _, tt := range tests {
		var rs []Result
		for _, s := range tt.in {
			rs = append(rs, Result{Status: s})
		}
		if got := Worst(rs); got != tt.want || got.Success() != tt.ok {
			t.Errorf("Worst(%v) = %s (success %v), want %s (%v)", tt.in, got, got.Success(), tt.want, tt.ok)
		}
	}
}

func TestBuildIDFromNotes(t *testing.T) {
	note := func(name string, typ uint32, desc []byte) []byte {
		b := make([]byte, 12)
		binary.LittleEndian.PutUint32(b[0:], uint32(len(name)+1))
		binary.LittleEndian.PutUint32(b[4:], uint32(len(desc)))
		binary.LittleEndian.PutUint32(b[8:], typ)
		n := append([]byte(name), 0)
		for len(n)%4 != 0 {
			n = append(n, 0)
		}
		b = append(b, n...)
		b = append(b, desc...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	d := append(note("GNU", 1, []byte{0, 0, 0, 0}), note("GNU", 3, []byte{0xde, 0xad, 0xbe, 0xef})...)
	if got := buildIDFromNotes(d); got != "deadbeef" {
		t.Errorf("got %q", got)
	}
	for _, bad := range [][]byte{nil, {1, 2, 3}, d[:20]} {
		buildIDFromNotes(bad) // must not panic
	}
}

func TestResumable(t *testing.T) {
	const insn = 0x1000 // RIP after the syscall instruction
	tests := []struct {
		name         string
		orig, rax    uint64
		viaSigreturn bool
		wantRax      uint64
		wantRip      uint64
	}{
		{"not in a system call", noSyscall, 7, false, 7, insn},
		{"read, ERESTARTSYS", 0, uint64(^uint64(511)), false, 0, insn - 2},
		{"nanosleep, ERESTART_RESTARTBLOCK", 35, uint64(^uint64(515)), false, sysRestart, insn - 2},
		{"nanosleep, ERESTART_RESTARTBLOCK, by rt_sigreturn", 35, uint64(^uint64(515)), true, 35, insn - 2},
		{"completed system call", 0, 12, false, 12, insn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resumable(unix.PtraceRegs{Orig_rax: tt.orig, Rax: tt.rax, Rip: insn}, tt.viaSigreturn)
			if r.Rax != tt.wantRax || r.Rip != tt.wantRip || r.Orig_rax != noSyscall {
				t.Errorf("rax %d rip %#x orig_rax %#x; want rax %d rip %#x orig_rax -1", r.Rax, r.Rip, r.Orig_rax, tt.wantRax, tt.wantRip)
			}
		})
	}
}

func TestFrameLayout(t *testing.T) {
	s := regState{xstate: make([]byte, 2696)}
	binary.LittleEndian.PutUint32(s.xstate[464:], fpMagic1)
	binary.LittleEndian.PutUint32(s.xstate[480:], 2696)
	for _, rsp := range []uint64{0x7ffc00001000, 0x7ffc00001008, 0x7ffc0000fff0} {
		base := frameBase(rsp, s)
		if (base+frameFP)%64 != 0 || (base+8)%16 != 0 || base+frameSize(s) > rsp-redZone {
			t.Errorf("rsp %#x: frame at %#x (XSAVE %% 64 = %d, entry RSP+8 %% 16 = %d, top %#x)", rsp, base, (base+frameFP)%64, (base+8)%16, base+frameSize(s))
		}
		f := sigFrame(base, 0xdead, unix.PtraceRegs{Rip: 0x1234, Rsp: rsp, Cs: 0x33, Ss: 0x2b}, s, 5)
		le := binary.LittleEndian
		if le.Uint64(f) != 0xdead || le.Uint64(f[frameMcontxt+16*8:]) != 0x1234 || le.Uint64(f[frameMcontxt+192:]) != base+frameFP ||
			le.Uint64(f[frameSigmask:]) != 5 || le.Uint32(f[frameFP+2696:]) != fpMagic2 || le.Uint64(f[frameUC:])&ucFPXState == 0 {
			t.Errorf("rsp %#x: frame fields wrong", rsp)
		}
	}
}

func TestWritePatchInfoTwice(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found")
	}
	so := filepath.Join(t.TempDir(), "p.so")
	if err := gcc("-O2", "-fPIC", "-shared", "-Wl,--build-id", "-DPATCH_VERSION=1", "-o", so, "testdata/patch.c"); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b"} {
		if err := WritePatchInfo(so, PatchInfo{TargetBuildID: "00ff", Version: v, Functions: []string{"ver_get"}}); err != nil {
			t.Fatal(err)
		}
		pi, err := ReadPatchInfo(so)
		if err != nil || pi == nil || pi.Version != v {
			t.Fatalf("after writing %s: %+v, %v", v, pi, err)
		}
	}
	after, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	// The loadable part of the file is unchanged but for the ELF header's
	// section-table fields.
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		lo := max(p.Off, 64)
		if p.Type == elf.PT_LOAD && !bytes.Equal(before[lo:p.Off+p.Filesz], after[lo:p.Off+p.Filesz]) {
			t.Errorf("segment at offset %#x changed", p.Off)
		}
	}
	if id, err := BuildID(so); err != nil || id == "" {
		t.Errorf("build-id: %q, %v", id, err)
	}
	if pi, err := ReadPatchInfo("testdata/patch.c"); err == nil || pi != nil {
		t.Errorf("a non-ELF file: %+v, %v", pi, err)
	}
}

func TestPlanPad(t *testing.T) {
	const bias = 0x10000
	runs := []addrRange{{0x100, 0x140}} // link-time padding
	file := func(a uint64, n int) ([]byte, error) { return make([]byte, n), nil }
	tests := []struct {
		name  string
		p, k  uint64
		next  byte
		avoid []addrRange
		cur   byte // memory byte value (file bytes are 0)
		ok    bool
		at    uint64
		disp  byte
	}{
		{"nearest below", bias + 0x150, 3, 0, nil, 0, true, bias + 0x13b, 0xe9},
		{"nearest above", bias + 0xf0, 2, 0, nil, 0, true, bias + 0x100, 0x0e},
		{"one byte: displacement fixed by the next byte", bias + 0xfd, 1, 0x10, nil, 0, true, bias + 0x10f, 0x10},
		{"one byte: not padding there", bias + 0xfd, 1, 0x60, nil, 0, false, 0, 0},
		{"out of reach", bias + 0x200, 3, 0, nil, 0, false, 0, 0},
		{"used by another site", bias + 0x150, 3, 0, []addrRange{{bias + 0x100, bias + 0x140}}, 0, false, 0, 0},
		{"memory differs from the file", bias + 0x150, 3, 0, nil, 0xcc, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := func(a uint64, n int) ([]byte, error) {
				b := make([]byte, n)
				for i := range b {
					b[i] = tt.cur
				}
				return b, nil
			}
			pp, ok, err := planPad(tt.p, bias, tt.k, tt.next, runs, tt.avoid, cur, file)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.ok || (ok && (pp.at != tt.at || pp.entry != [2]byte{0xeb, tt.disp})) {
				t.Errorf("got %v %#x %x, want %v %#x eb%02x", ok, pp.at, pp.entry, tt.ok, tt.at, tt.disp)
			}
		})
	}
}

// TestThreadCount compares the count threadCount reads from the link count
// of /proc/PID/task with a listing of the directory, for this process.
func TestThreadCount(t *testing.T) {
	tr := &tracer{pid: os.Getpid()}
	defer tr.closeTaskDir()
	for try := 0; try < 100; try++ {
		before, err := listTasks(tr.pid)
		if err != nil {
			t.Fatal(err)
		}
		n, err := tr.threadCount()
		if err != nil {
			t.Fatal(err)
		}
		after, err := listTasks(tr.pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(before) != len(after) {
			continue // the runtime started a thread meanwhile
		}
		if n != len(before) {
			t.Fatalf("threadCount = %d, /proc/%d/task lists %d threads", n, tr.pid, len(before))
		}
		return
	}
	t.Skip("the number of threads kept changing")
}
