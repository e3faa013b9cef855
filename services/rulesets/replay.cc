#include "services/rulesets/replay.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "google/protobuf/arena.h"

namespace frontdoor::rulesets {
namespace {

using rules::CompiledRow;
using rules::CompiledRuleSet;
using rules::CompiledTable;
using rules::EvalResult;

constexpr int kBatchSize = 256;
// Arena block each batch starts with (a stored referral copies to about
// 1-2 KiB); larger batches grow it.
constexpr size_t kBatchArenaBytes = 1 << 20;
constexpr int kBatchesPerThread = 4;

// Row codes: table << kRowBits | row, or one of these.
constexpr int kRowBits = 20;  // LoadOptions::max_rows is 200000 < 2^20
constexpr int kFallbackCode = -1;
constexpr int kMissingDataCode = -2;

int64_t Micros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

int ResponsibleCode(const CompiledRuleSet& rs, const EvalResult& r) {
  const int t = r.decisive_table();
  v1::Pathway p;
  v1::Urgency u;
  if (t >= 0) {
    const CompiledRow& row = rs.tables()[t].rows[r.decisive_row()];
    p = row.pathway;
    u = row.urgency;
  } else {
    p = rs.fallback().pathway();
    u = rs.fallback().urgency();
  }
  if (r.pathway() != p || r.urgency() != u) return kMissingDataCode;
  if (t < 0) return kFallbackCode;
  return t << kRowBits | r.decisive_row();
}

std::string CodeLabel(const CompiledRuleSet& rs, int code) {
  if (code == kFallbackCode) return "fallback";
  if (code == kMissingDataCode) return "missing_data";
  return rs.tables()[code >> kRowBits]
      .rows[code & ((1 << kRowBits) - 1)]
      .qualified_id;
}

// Ordering of listed changes and samples: downgrades first, then by
// position in the source.
struct Key {
  bool not_downgrade;
  int64_t seq;
  bool operator<(const Key& o) const {
    return std::tie(not_downgrade, seq) < std::tie(o.not_downgrade, o.seq);
  }
};

struct Change {
  Key key;
  std::string id;
  uint8_t from_pathway, from_urgency, to_pathway, to_urgency;
  int from_code, to_code;
  bool operator<(const Change& o) const { return key < o.key; }
};

// Keeps the `cap` smallest items (a max-heap).
template <typename T>
class Smallest {
 public:
  explicit Smallest(int cap) : cap_(std::max(0, cap)) {}
  // Whether an item with key `k` would be kept (before building it).
  bool Wants(const Key& k) const {
    return static_cast<int>(heap_.size()) < cap_ || k < heap_.front().key;
  }
  void Add(T item) {
    if (static_cast<int>(heap_.size()) < cap_) {
      heap_.push_back(std::move(item));
      std::push_heap(heap_.begin(), heap_.end());
    } else if (cap_ > 0 && item.key < heap_.front().key) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = std::move(item);
      std::push_heap(heap_.begin(), heap_.end());
    }
  }
  std::vector<T>& items() { return heap_; }

 private:
  int cap_;
  std::vector<T> heap_;
};

struct Sample {
  Key key;
  std::string id;
  bool operator<(const Sample& o) const { return key < o.key; }
};

struct RowAgg {
  explicit RowAgg(int samples) : samples(samples) {}
  int64_t changed = 0;
  int64_t downgrades = 0;
  Smallest<Sample> samples;
};

uint32_t TransitionKey(v1::Pathway fp, v1::Urgency fu, v1::Pathway tp,
                       v1::Urgency tu) {
  return static_cast<uint32_t>(fp) << 24 | static_cast<uint32_t>(fu) << 16 |
         static_cast<uint32_t>(tp) << 8 | static_cast<uint32_t>(tu);
}

// What one thread found.
struct Acc {
  Acc(const ReplayOptions& o, size_t hit_words)
      : changes(o.max_changes),
        samples_per_row(o.samples_per_row),
        hit(hit_words, 0) {}
  int64_t referrals = 0;
  int64_t changed = 0;
  int64_t downgrades = 0;
  int64_t upgrades = 0;
  absl::flat_hash_map<uint32_t, int64_t> transitions;
  Smallest<Change> changes;
  int samples_per_row;
  absl::flat_hash_map<int, RowAgg> by_row;
  std::vector<uint64_t> hit;  // candidate rows matched, table by table
};

struct Item {
  const v1::Referral* referral;
  std::string id;
  int64_t seq;
};

struct Batch {
  Batch() : block(new char[kBatchArenaBytes]), arena(MakeOptions(block.get())) {
    items.reserve(kBatchSize);
  }
  static google::protobuf::ArenaOptions MakeOptions(char* block) {
    google::protobuf::ArenaOptions o;
    o.initial_block = block;
    o.initial_block_size = kBatchArenaBytes;
    return o;
  }
  void Clear() {
    items.clear();
    arena.Reset();
  }
  std::unique_ptr<char[]> block;
  google::protobuf::Arena arena;
  std::vector<Item> items;
};

// Batches ready for the workers, and free ones for the reader.
class Pipeline {
 public:
  explicit Pipeline(int batches) {
    for (int i = 0; i < batches; ++i) {
      all_.push_back(std::make_unique<Batch>());
      free_.push_back(all_.back().get());
    }
  }
  Batch* TakeFree() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::vector<Batch*>* f) { return !f->empty(); }, &free_));
    Batch* b = free_.back();
    free_.pop_back();
    return b;
  }
  void GiveBack(Batch* b) {
    b->Clear();
    absl::MutexLock lock(&mu_);
    free_.push_back(b);
  }
  void Push(Batch* b) {
    absl::MutexLock lock(&mu_);
    ready_.push_back(b);
  }
  // Null once closed and drained.
  Batch* Pop() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &Pipeline::CanPop));
    if (ready_.empty()) return nullptr;
    Batch* b = ready_.front();
    ready_.erase(ready_.begin());
    return b;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }

 private:
  bool CanPop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || !ready_.empty();
  }

  std::vector<std::unique_ptr<Batch>> all_;
  absl::Mutex mu_;
  std::vector<Batch*> free_ ABSL_GUARDED_BY(mu_);
  std::vector<Batch*> ready_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class Worker {
 public:
  Worker(const CompiledRuleSet& active, const CompiledRuleSet& candidate,
         const std::vector<size_t>& hit_offsets, const ReplayOptions& options,
         size_t hit_words)
      : active_(active),
        candidate_(candidate),
        hit_offsets_(hit_offsets),
        acc_(options, hit_words) {}

  void Process(const Item& item) {
    active_.Evaluate(*item.referral, &a_);
    candidate_.Evaluate(*item.referral, &c_);
    ++acc_.referrals;
    const auto& tables = candidate_.tables();
    for (size_t t = 0; t < tables.size(); ++t) {
      const uint64_t* m = c_.MatchedRows(tables[t]);
      uint64_t* h = acc_.hit.data() + hit_offsets_[t];
      for (int w = 0; w < tables[t].words; ++w) h[w] |= m[w];
    }
    if (a_.pathway() == c_.pathway() && a_.urgency() == c_.urgency()) return;
    ++acc_.changed;
    const bool down = IsDowngrade(a_.urgency(), c_.urgency());
    if (down) {
      ++acc_.downgrades;
    } else if (IsDowngrade(c_.urgency(), a_.urgency())) {
      ++acc_.upgrades;
    }
    ++acc_.transitions[TransitionKey(a_.pathway(), a_.urgency(), c_.pathway(),
                                     c_.urgency())];
    const Key key{!down, item.seq};
    const int to_code = ResponsibleCode(candidate_, c_);
    auto it = acc_.by_row.try_emplace(to_code, acc_.samples_per_row).first;
    RowAgg& agg = it->second;
    ++agg.changed;
    if (down) ++agg.downgrades;
    if (agg.samples.Wants(key)) agg.samples.Add(Sample{key, item.id});
    if (acc_.changes.Wants(key)) {
      acc_.changes.Add(Change{key, item.id, static_cast<uint8_t>(a_.pathway()),
                              static_cast<uint8_t>(a_.urgency()),
                              static_cast<uint8_t>(c_.pathway()),
                              static_cast<uint8_t>(c_.urgency()),
                              ResponsibleCode(active_, a_), to_code});
    }
  }

  Acc& acc() { return acc_; }

 private:
  const CompiledRuleSet& active_;
  const CompiledRuleSet& candidate_;
  const std::vector<size_t>& hit_offsets_;
  EvalResult a_, c_;
  Acc acc_;
};

}  // namespace

bool IsDowngrade(v1::Urgency from, v1::Urgency to) {
  return from != v1::URGENCY_UNSPECIFIED && to != v1::URGENCY_UNSPECIFIED &&
         to > from;
}

std::string ResponsibleRow(const CompiledRuleSet& rule_set,
                           const EvalResult& result) {
  return CodeLabel(rule_set, ResponsibleCode(rule_set, result));
}

ReplaySource RecordsSource(const std::vector<v1::ReferralRecord>* records) {
  return [records](const ReplayVisitor& visit) {
    for (const v1::ReferralRecord& r : *records) {
      if (!visit(r)) break;
    }
    return absl::OkStatus();
  };
}

absl::StatusOr<v1::ReplayReport> Replay(const CompiledRuleSet& active,
                                        const CompiledRuleSet& candidate,
                                        const ReplaySource& source,
                                        const ReplayOptions& options) {
  if (options.limit < 0) {
    return absl::InvalidArgumentError("replay limit must not be negative");
  }
  const absl::Time start = absl::Now();
  const int threads = std::max(1, options.threads);

  std::vector<size_t> hit_offsets;
  size_t hit_words = 0;
  for (const CompiledTable& t : candidate.tables()) {
    hit_offsets.push_back(hit_words);
    hit_words += static_cast<size_t>(t.words);
  }

  Pipeline pipeline(threads * kBatchesPerThread);
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<int64_t> done{0};
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<Worker>(active, candidate, hit_offsets,
                                               options, hit_words));
    Worker* w = workers.back().get();
    pool.emplace_back([w, &pipeline, &done] {
      while (Batch* b = pipeline.Pop()) {
        for (const Item& item : b->items) w->Process(item);
        done.fetch_add(static_cast<int64_t>(b->items.size()),
                       std::memory_order_relaxed);
        pipeline.GiveBack(b);
      }
    });
  }

  // Progress counts the records the source gave (filtered out or not)
  // against the estimate; with a limit and no estimate, the referrals taken
  // against the limit.
  const bool by_limit = options.expected_total <= 0 && options.limit > 0;
  const int64_t total =
      by_limit ? options.limit : std::max<int64_t>(0, options.expected_total);
  const int64_t step = total > 0 ? std::max<int64_t>(1, total / 100) : 10000;
  int64_t next_report = step;
  bool cancelled = false;
  int64_t visited = 0;
  int64_t accepted = 0;
  Batch* current = nullptr;
  const int64_t after =
      options.received_after ? absl::ToUnixMicros(*options.received_after) : 0;
  const int64_t before = options.received_before
                             ? absl::ToUnixMicros(*options.received_before)
                             : 0;

  auto flush = [&] {
    if (current == nullptr) return;
    pipeline.Push(current);
    current = nullptr;
  };
  auto report_progress = [&] {
    if (!options.progress) return;
    const int64_t d = by_limit ? accepted : visited;
    if (d < next_report) return;
    next_report = (d / step + 1) * step;
    if (!options.progress(total > 0 ? std::min(d, total) : d, total)) {
      cancelled = true;
    }
  };
  ReplayVisitor visit = [&](const v1::ReferralRecord& record) {
    ++visited;
    const bool wanted =
        (options.pathway == v1::PATHWAY_UNSPECIFIED ||
         record.pathway() == options.pathway) &&
        (!options.received_after || Micros(record.received_at()) >= after) &&
        (!options.received_before || Micros(record.received_at()) < before);
    if (wanted) {
      if (current == nullptr) current = pipeline.TakeFree();
      auto* referral =
          google::protobuf::Arena::CreateMessage<v1::Referral>(&current->arena);
      *referral = record.referral();
      if (!referral->has_received_at() && record.has_received_at()) {
        *referral->mutable_received_at() = record.received_at();
      }
      current->items.push_back(Item{referral, record.id(), accepted});
      ++accepted;
      if (current->items.size() == kBatchSize) flush();
    }
    report_progress();
    if (cancelled) return false;
    return options.limit == 0 || accepted < options.limit;
  };
  absl::Status status = source(visit);
  flush();
  pipeline.Close();
  for (std::thread& t : pool) t.join();
  if (!status.ok()) return status;
  if (cancelled) return absl::CancelledError("replay cancelled");

  // Merge.
  v1::ReplayReport report;
  report.set_active_version(active.version());
  report.set_candidate_version(candidate.version());
  absl::flat_hash_map<uint32_t, int64_t> transitions;
  Smallest<Change> changes(options.max_changes);
  absl::flat_hash_map<int, RowAgg> by_row;
  std::vector<uint64_t> hit(hit_words, 0);
  int64_t referrals = 0, changed = 0, downgrades = 0, upgrades = 0;
  for (auto& w : workers) {
    Acc& a = w->acc();
    referrals += a.referrals;
    changed += a.changed;
    downgrades += a.downgrades;
    upgrades += a.upgrades;
    for (const auto& [k, n] : a.transitions) transitions[k] += n;
    for (Change& c : a.changes.items()) changes.Add(std::move(c));
    for (auto& [code, agg] : a.by_row) {
      RowAgg& m =
          by_row.try_emplace(code, options.samples_per_row).first->second;
      m.changed += agg.changed;
      m.downgrades += agg.downgrades;
      for (Sample& s : agg.samples.items()) m.samples.Add(std::move(s));
    }
    for (size_t i = 0; i < hit_words; ++i) hit[i] |= a.hit[i];
  }
  report.set_referrals(referrals);
  report.set_changed(changed);
  report.set_downgrades(downgrades);
  report.set_upgrades(upgrades);

  std::vector<std::pair<uint32_t, int64_t>> trans(transitions.begin(),
                                                  transitions.end());
  std::sort(trans.begin(), trans.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  for (const auto& [k, n] : trans) {
    v1::TransitionCount* t = report.add_transitions();
    t->set_from_pathway(static_cast<v1::Pathway>(k >> 24));
    t->set_from_urgency(static_cast<v1::Urgency>(k >> 16 & 0xff));
    t->set_to_pathway(static_cast<v1::Pathway>(k >> 8 & 0xff));
    t->set_to_urgency(static_cast<v1::Urgency>(k & 0xff));
    t->set_count(n);
  }

  std::vector<Change>& listed = changes.items();
  std::sort(listed.begin(), listed.end());
  for (const Change& c : listed) {
    v1::ReplayChange* out = report.add_changes();
    out->set_referral_id(c.id);
    out->set_from_pathway(static_cast<v1::Pathway>(c.from_pathway));
    out->set_from_urgency(static_cast<v1::Urgency>(c.from_urgency));
    out->set_to_pathway(static_cast<v1::Pathway>(c.to_pathway));
    out->set_to_urgency(static_cast<v1::Urgency>(c.to_urgency));
    out->set_downgrade(!c.key.not_downgrade);
    out->set_from_row(CodeLabel(active, c.from_code));
    out->set_to_row(CodeLabel(candidate, c.to_code));
  }

  struct RowOut {
    std::string label;
    RowAgg* agg;
  };
  std::vector<RowOut> rows;
  for (auto& [code, agg] : by_row)
    rows.push_back({CodeLabel(candidate, code), &agg});
  std::sort(rows.begin(), rows.end(), [](const RowOut& x, const RowOut& y) {
    if (x.agg->downgrades != y.agg->downgrades) {
      return x.agg->downgrades > y.agg->downgrades;
    }
    if (x.agg->changed != y.agg->changed)
      return x.agg->changed > y.agg->changed;
    return x.label < y.label;
  });
  for (RowOut& r : rows) {
    v1::RowImpact* out = report.add_by_row();
    out->set_row(r.label);
    out->set_changed(r.agg->changed);
    out->set_downgrades(r.agg->downgrades);
    std::vector<Sample>& samples = r.agg->samples.items();
    std::sort(samples.begin(), samples.end());
    for (const Sample& s : samples) out->add_sample_referrals(s.id);
  }

  if (referrals > 0) {
    for (size_t t = 0; t < candidate.tables().size(); ++t) {
      const CompiledTable& table = candidate.tables()[t];
      for (int r = 0; r < table.nrows; ++r) {
        if (!((hit[hit_offsets[t] + r / 64] >> (r % 64)) & 1)) {
          report.add_rows_never_hit(table.rows[r].qualified_id);
        }
      }
    }
  }
  report.set_seconds(absl::ToDoubleSeconds(absl::Now() - start));
  return report;
}

}  // namespace frontdoor::rulesets
