package abi

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/compatgate/compatgate/internal/testlib"
)

// benchCXXSrc is a C++ library whose exported functions reach the
// standard containers: their classes are defined again in each unit that
// uses them, as in libstdc++ itself.
const benchCXXSrc = `
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>
namespace bench {
struct Item { std::string name; std::vector<int> values; std::shared_ptr<Item> next; };
class Store {
public:
	virtual ~Store();
	std::map<std::string, Item> items;
	std::unordered_map<int, std::function<int(const Item &)>> hooks;
	int count(const std::string &key) const;
};
Store::~Store() {}
int Store::count(const std::string &key) const { return int(items.count(key)); }
std::vector<Item> all(const Store &s) { std::vector<Item> v; for (auto &p : s.items) v.push_back(p.second); return v; }
std::unique_ptr<Store> make() { return std::make_unique<Store>(); }
}
`

// BenchmarkReadDebugInfo decodes the declarations and types of the
// exported symbols of a C++ library built in two units.
func BenchmarkReadDebugInfo(b *testing.B) {
	so := testlib.BuildUnits(b, map[string]string{
		"u0.cc": benchCXXSrc,
		"u1.cc": strings.Replace(benchCXXSrc, "namespace bench", "namespace bench2", 1),
	})
	syms := exportsOf(b, so)
	df := openTestDWARF(b, so)
	b.ReportAllocs()
	for b.Loop() {
		info, err := Read(df, syms, so)
		if err != nil {
			b.Fatal(err)
		}
		if info.Types < 100 {
			b.Fatalf("only %d types decoded", info.Types)
		}
	}
}

// TestReadCutFile reads a library whose file is cut after its DWARF
// sections are mapped: the reader faults on the pages past the end, and
// must return an error, not crash.
func TestReadCutFile(t *testing.T) {
	built := testlib.BuildUnitsWith(t, "gcc", map[string]string{"a.c": testlib.CSrc})
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(t.TempDir(), "lib.so")
	if err := os.WriteFile(so, data, 0o644); err != nil {
		t.Fatal(err)
	}
	syms := exportsOf(t, so)
	df := openTestDWARF(t, so)
	if err := os.Truncate(so, 0); err != nil {
		t.Fatal(err)
	}
	info, err := Read(df, syms, so)
	if runtime.GOOS == "linux" && err == nil {
		t.Fatalf("read %d functions from a cut file, want an error", len(info.Funcs))
	}
	t.Logf("error: %v", err)
}
