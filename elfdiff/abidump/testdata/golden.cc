// The library of the golden dump golden-cxx-v1.abi.json (see golden_test.go).
namespace shapes {
struct Base {
	virtual ~Base();
	virtual int area() const = 0;
	int id;
};
struct Named {
	virtual const char *name() const;
	static int count;
};
class Square : public Base, public virtual Named {
public:
	explicit Square(int s);
	int area() const override;
	const char *name() const override;
private:
	int side_;
};
Base::~Base() {}
const char *Named::name() const { return "named"; }
int Named::count = 0;
Square::Square(int s) : side_(s) {}
int Square::area() const { return side_ * side_; }
const char *Square::name() const { return "square"; }
int total(const Square &s) { return s.area(); }
}
