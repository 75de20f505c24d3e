package abi

import "testing"

func TestClassification(t *testing.T) {
	i32 := &Type{Kind: BaseType, Name: "int", Size: 4, Encoding: AteSigned}
	i64 := &Type{Kind: BaseType, Name: "long int", Size: 8, Encoding: AteSigned}
	f32 := &Type{Kind: BaseType, Name: "float", Size: 4, Encoding: AteFloat}
	f64 := &Type{Kind: BaseType, Name: "double", Size: 8, Encoding: AteFloat}
	f80 := &Type{Kind: BaseType, Name: "long double", Size: 16, Encoding: AteFloat}
	ptr := &Type{Kind: PointerType, Size: 8, Elem: i32}
	st := func(size int64, ms ...Member) *Type {
		return &Type{Kind: StructType, Name: "s", Size: size, Members: ms}
	}
	m := func(off int64, t *Type) Member { return Member{Type: t, Offset: off, BitOffset: off * 8} }
	tests := []struct {
		name     string
		t        *Type
		isReturn bool
		want     string
	}{
		{"void", &Type{Kind: VoidType, Size: -1}, false, ""},
		{"int", i32, false, "INTEGER"},
		{"pointer", ptr, false, "INTEGER"},
		{"double", f64, false, "SSE"},
		{"long double param", f80, false, "MEMORY"},
		{"long double return", f80, true, "X87+X87UP"},
		{"two longs", st(16, m(0, i64), m(8, i64)), false, "INTEGER+INTEGER"},
		{"three longs", st(24, m(0, i64), m(8, i64), m(16, i64)), false, "MEMORY"},
		{"int and float share an eightbyte", st(8, m(0, i32), m(4, f32)), false, "INTEGER"},
		{"two floats", st(8, m(0, f32), m(4, f32)), false, "SSE"},
		{"double then int", st(16, m(0, f64), m(8, i32)), false, "SSE+INTEGER"},
		{"struct with long double", st(32, m(0, i32), m(16, f80)), false, "MEMORY"},
		{"array of 4 ints", st(16, m(0, &Type{Kind: ArrayType, Elem: i32, Count: 4, Size: -1})), false, "INTEGER+INTEGER"},
		{"int vector of 16 bytes", &Type{Kind: ArrayType, Elem: i32, Count: 4, Size: -1, Vector: true}, false, "SSE+SSEUP"},
		{"typedef of double", &Type{Kind: TypedefType, Name: "real", Elem: f64}, false, "SSE"},
	}
	for _, tt := range tests {
		if got := Classification(tt.t, tt.isReturn); got != tt.want {
			t.Errorf("%s: Classification = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTypeString(t *testing.T) {
	i32 := &Type{Kind: BaseType, Name: "int", Size: 4}
	ch := &Type{Kind: BaseType, Name: "char", Size: 1}
	cch := &Type{Kind: ConstType, Elem: ch}
	fn := &Type{Kind: FuncType, Elem: i32, Params: []*Type{i32, {Kind: PointerType, Elem: cch, Size: 8}}}
	tests := []struct {
		t    *Type
		want string
	}{
		{i32, "int"},
		{&Type{Kind: PointerType, Elem: cch, Size: 8}, "const char *"},
		{&Type{Kind: ConstType, Elem: &Type{Kind: PointerType, Elem: ch, Size: 8}}, "char *const"},
		{&Type{Kind: PointerType, Elem: fn, Size: 8}, "int (*)(int, const char *)"},
		{&Type{Kind: ArrayType, Elem: i32, Count: 4, Size: -1}, "int[4]"},
		{&Type{Kind: ArrayType, Elem: i32, Count: -1, Size: -1}, "int[]"},
		{&Type{Kind: StructType, Name: "point"}, "struct point"},
		{&Type{Kind: PointerType, Elem: &Type{Kind: VoidType}, Size: 8}, "void *"},
		{&Type{Kind: FuncType, Elem: i32, Variadic: true, Params: []*Type{i32}}, "int(int, ...)"},
	}
	for _, tt := range tests {
		if got := tt.t.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
