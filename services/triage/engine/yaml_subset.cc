#include "services/triage/engine/yaml_subset.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "services/common/utf8.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/exceptions.h"
#include "yaml-cpp/mark.h"
#include "yaml-cpp/parser.h"

namespace frontdoor::rules {
namespace {

SourcePos ToPos(const YAML::Mark& m) { return {m.line + 1, m.column + 1}; }

// Builds YamlNode trees from yaml-cpp events, rejecting what the subset
// forbids. yaml-cpp resolves aliases silently in its Node API, which is why
// the event API is used.
class Builder : public YAML::EventHandler {
 public:
  Builder(absl::string_view file, absl::string_view text, Diagnostics* diags)
      : file_(file), text_(text), diags_(diags) {}

  std::unique_ptr<YamlNode> TakeRoot() { return std::move(root_); }
  int documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark&) override { ++documents_; }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    CheckAnchor(mark, anchor);
    Error(ToPos(mark), "empty-value",
          "empty or null value; write a value (use - for 'any' or 'none')");
    auto node = std::make_unique<YamlNode>();
    node->pos = ToPos(mark);
    Attach(std::move(node));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    Error(ToPos(mark), "yaml-alias",
          "aliases (*name) are not allowed in rule files; write the value out");
    auto node = std::make_unique<YamlNode>();
    node->pos = ToPos(mark);
    Attach(std::move(node));
  }

  void OnAnchor(const YAML::Mark& mark, const std::string& name) override {
    Error(ToPos(mark), "yaml-anchor",
          absl::StrCat("anchors (&", name,
                       ") are not allowed in rule files; write the value out"));
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag,
                YAML::anchor_t anchor, const std::string& value) override {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    auto node = std::make_unique<YamlNode>();
    node->kind = YamlNode::Kind::kScalar;
    node->pos = ToPos(mark);
    node->scalar = value;
    if (mark.pos >= 0 && static_cast<size_t>(mark.pos) < text_.size()) {
      char c = text_[mark.pos];
      node->block_scalar = c == '|' || c == '>';
    }
    Attach(std::move(node));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag,
                       YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    auto node = std::make_unique<YamlNode>();
    node->kind = YamlNode::Kind::kSequence;
    node->pos = ToPos(mark);
    Open(std::move(node));
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag,
                  YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    CheckAnchor(mark, anchor);
    CheckTag(mark, tag);
    auto node = std::make_unique<YamlNode>();
    node->kind = YamlNode::Kind::kMap;
    node->pos = ToPos(mark);
    Open(std::move(node));
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    std::unique_ptr<YamlNode> node;
    // For maps: the key waiting for its value.
    bool have_key = false;
    std::string key;
    SourcePos key_pos;
  };

  void Error(SourcePos pos, absl::string_view code, std::string message) {
    diags_->Error(file_, pos, code, std::move(message));
  }
  void CheckAnchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
    // OnAnchor reports the name; nothing more to do here.
    (void)mark;
    (void)anchor;
  }
  void CheckTag(const YAML::Mark& mark, const std::string& tag) {
    // "?" marks an untagged plain node and "!" a quoted or block scalar.
    if (!tag.empty() && tag != "?" && tag != "!") {
      Error(ToPos(mark), "yaml-tag",
            absl::StrCat("tags (", tag, ") are not allowed in rule files"));
    }
  }

  void Open(std::unique_ptr<YamlNode> node) {
    stack_.push_back(Frame{std::move(node)});
  }
  void Close() {
    if (stack_.empty()) return;
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.have_key) {
      Error(f.key_pos, "empty-value", "key '" + f.key + "' has no value");
    }
    Attach(std::move(f.node));
  }

  void Attach(std::unique_ptr<YamlNode> node) {
    if (stack_.empty()) {
      if (root_ == nullptr) root_ = std::move(node);
      return;
    }
    Frame& top = stack_.back();
    if (top.node->kind == YamlNode::Kind::kSequence) {
      top.node->items.push_back(std::move(node));
      return;
    }
    if (!top.have_key) {
      if (node->kind != YamlNode::Kind::kScalar) {
        Error(node->pos, "yaml-complex-key", "map keys must be plain words");
        top.have_key = true;
        top.key = "?";
        top.key_pos = node->pos;
        return;
      }
      if (node->scalar == "<<") {
        Error(node->pos, "yaml-merge-key",
              "merge keys (<<) are not allowed in rule files");
      }
      for (const auto& e : top.node->entries) {
        if (e.key == node->scalar) {
          Error(node->pos, "yaml-duplicate-key",
                absl::StrCat("duplicate key '", node->scalar,
                             "' (first at line ", e.key_pos.line, ")"));
        }
      }
      top.have_key = true;
      top.key = node->scalar;
      top.key_pos = node->pos;
      return;
    }
    top.node->entries.push_back({top.key, top.key_pos, std::move(node)});
    top.have_key = false;
  }

  std::string file_;
  absl::string_view text_;
  Diagnostics* diags_;
  std::vector<Frame> stack_;
  std::unique_ptr<YamlNode> root_;
  int documents_ = 0;
};

}  // namespace

const YamlNode::Entry* YamlNode::FindEntry(absl::string_view key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const YamlNode* YamlNode::Find(absl::string_view key) const {
  const Entry* e = FindEntry(key);
  return e == nullptr ? nullptr : e->value.get();
}

const char* YamlNode::KindName() const {
  switch (kind) {
    case Kind::kScalar:
      return "a value";
    case Kind::kSequence:
      return "a list";
    case Kind::kMap:
      return "a map";
  }
  return "?";
}

std::unique_ptr<YamlNode> ParseStrictYaml(absl::string_view text,
                                          absl::string_view file,
                                          Diagnostics* diags) {
  const int errors_before = diags->error_count();
  // Tabs: YAML forbids them for indentation and they misalign pipe tables.
  int line = 1, col = 1;
  for (char c : text) {
    if (c == '\t') {
      diags->Error(file, {line, col}, "yaml-tab",
                   "tab character; use spaces");
    }
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\0') {
      diags->Error(file, {}, "not-text", "file contains NUL bytes; not a text file");
      return nullptr;
    }
  }
  if (size_t bad = FindInvalidUtf8(text); bad != absl::string_view::npos) {
    int l = 1, c = 1;
    for (size_t i = 0; i < bad; ++i) {
      if (text[i] == '\n') {
        ++l;
        c = 1;
      } else {
        ++c;
      }
    }
    diags->Error(file, {l, c}, "not-utf8",
                 "the file is not UTF-8 text (saved in another encoding?); save it as UTF-8");
    return nullptr;
  }
  std::string copy(text);
  std::istringstream in(copy);
  Builder builder(file, copy, diags);
  try {
    YAML::Parser parser(in);
    // One document; a second one is an error, and parsing stops there (some
    // malformed inputs make yaml-cpp yield empty documents without end).
    if (parser.HandleNextDocument(builder) && parser.HandleNextDocument(builder)) {
      diags->Error(file, {}, "yaml-multiple-documents",
                   "more than one YAML document (---) in one file");
    }
  } catch (const YAML::Exception& e) {
    diags->Error(file, ToPos(e.mark), "yaml-syntax",
                 absl::StrCat("YAML syntax error: ", e.msg));
    return nullptr;
  }
  std::unique_ptr<YamlNode> root = builder.TakeRoot();
  if (root == nullptr) {
    diags->Error(file, {1, 1}, "empty-file", "the file is empty");
    return nullptr;
  }
  if (diags->error_count() > errors_before) return root;
  return root;
}

}  // namespace frontdoor::rules
