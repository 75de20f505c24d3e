// Ground truth for pugixml: parse, navigate, XPath, modify, and save
// through an xml_writer and a tree walk with an xml_tree_walker that the
// client implements (the library calls the client's virtual functions), and
// an xpath_exception thrown by the library and caught by the client.
#include <cstdio>
#include <cstring>
#include <string>
#include <pugixml.hpp>

#define FAIL(...) do { std::printf("BREAK " __VA_ARGS__); std::printf("\n"); return 1; } while (0)

namespace {
struct StringWriter : pugi::xml_writer {
  std::string out;
  void write(const void* data, size_t size) override { out.append(static_cast<const char*>(data), size); }
};
struct Counter : pugi::xml_tree_walker {
  int elements = 0, maxdepth = 0, began = 0, ended = 0;
  bool begin(pugi::xml_node&) override { began++; return true; }
  bool for_each(pugi::xml_node& n) override {
    if (n.type() == pugi::node_element) elements++;
    if (depth() > maxdepth) maxdepth = depth();
    return true;
  }
  bool end(pugi::xml_node&) override { ended++; return true; }
};
}  // namespace

int main() {
  pugi::xml_document doc;
  const char* text = "<lib name='x'><book id='1' year='1999'>A</book><book id='2' year='2011'>B</book><!-- c --><shelf><book id='3'/></shelf></lib>";
  pugi::xml_parse_result r = doc.load_string(text);
  if (!r || r.status != pugi::status_ok) FAIL("load_string: %s", r.description());
  pugi::xml_node lib = doc.child("lib");
  if (std::strcmp(lib.attribute("name").value(), "x")) FAIL("attribute");
  int ids = 0;
  for (pugi::xml_node b : lib.children("book")) ids += b.attribute("id").as_int();
  if (ids != 3) FAIL("children: %d", ids);
  if (std::strcmp(lib.find_child_by_attribute("book", "id", "2").child_value(), "B")) FAIL("find_child_by_attribute");

  pugi::xpath_node_set late = doc.select_nodes("//book[@year > 2000]");
  if (late.size() != 1 || late[0].node().attribute("id").as_int() != 2) FAIL("select_nodes: %zu", late.size());
  pugi::xpath_query q("count(//book) + sum(//book/@id)");
  if (q.evaluate_number(doc) != 9.0) FAIL("xpath_query::evaluate_number: %g", q.evaluate_number(doc));
  pugi::xpath_variable_set vars;
  vars.set("want", 3.0);
  pugi::xpath_query qv("//book[@id = $want]", &vars);
  if (!qv.evaluate_node(doc) || qv.evaluate_node(doc).parent().name() != std::string("shelf")) FAIL("pugi::xpath_variable_set/pugi::xpath_query (variables)");
  bool threw = false;
  try {
    pugi::xpath_query bad("//book[");
  } catch (const pugi::xpath_exception& e) {  // typeinfo shared with the library
    threw = e.result().error != nullptr && e.result().offset > 0;
  }
  if (!threw) FAIL("pugi::xpath_exception (a bad expression accepted)");

  pugi::xml_node nb = lib.append_child("book");
  nb.append_attribute("id") = 4;
  nb.text().set(2.5);
  lib.remove_child(lib.child("shelf"));
  lib.prepend_child(pugi::node_pcdata).set_value("t");

  Counter c;
  if (!doc.traverse(c) || c.began != 1 || c.ended != 1 || c.elements != 4 || c.maxdepth != 2)
    FAIL("traverse: %d elements, depth %d", c.elements, c.maxdepth);
  StringWriter w;
  doc.save(w, "", pugi::format_raw | pugi::format_no_declaration);
  const char* want = "<lib name=\"x\">t<book id=\"1\" year=\"1999\">A</book><book id=\"2\" year=\"2011\">B</book><book id=\"4\">2.5</book></lib>";
  if (w.out != want) FAIL("save: %s", w.out.c_str());
  pugi::xml_document copy;
  copy.reset(doc);
  if (copy.child("lib").last_child().text().as_double() != 2.5) FAIL("reset(copy)");
  r = doc.load_string("<a><b></a>");
  if (r || r.status != pugi::status_end_element_mismatch) FAIL("pugi::xml_document::load_string (error status): %d", r.status);
  std::printf("ok\n");
  return 0;
}
