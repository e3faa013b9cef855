#include "services/common/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace frontdoor {

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10};
  return kBuckets;
}

void Metrics::Declare(const std::string& name, Type type, const std::string& help,
                      std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (families_.count(name)) return;
  Family& f = families_[name];
  f.type = type;
  f.help = help;
  f.label_names = std::move(label_names);
}

Metrics::Series& Metrics::SeriesFor(const std::string& name, const LabelValues& labels) {
  Family& f = families_[name];
  Series& s = f.series[labels];
  if (f.type == Type::kHistogram && s.buckets.empty()) s.buckets.assign(LatencyBuckets().size(), 0);
  return s;
}

void Metrics::Increment(const std::string& name, const LabelValues& labels, double by) {
  absl::MutexLock lock(&mu_);
  SeriesFor(name, labels).value += by;
}

void Metrics::Set(const std::string& name, const LabelValues& labels, double value) {
  absl::MutexLock lock(&mu_);
  SeriesFor(name, labels).value = value;
}

void Metrics::Observe(const std::string& name, const LabelValues& labels, double value) {
  absl::MutexLock lock(&mu_);
  Series& s = SeriesFor(name, labels);
  if (s.buckets.empty()) s.buckets.assign(LatencyBuckets().size(), 0);
  const auto& bounds = LatencyBuckets();
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (value <= bounds[i]) s.buckets[i] += 1;
  }
  s.sum += value;
  s.count += 1;
}

void Metrics::AddCollector(std::function<void(Metrics&)> collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

double Metrics::Value(const std::string& name, const LabelValues& labels) {
  absl::MutexLock lock(&mu_);
  auto f = families_.find(name);
  if (f == families_.end()) return 0;
  auto s = f->second.series.find(labels);
  return s == f->second.series.end() ? 0 : s->second.value;
}

namespace {

std::string Escape(const std::string& v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

std::string Labels(const std::vector<std::string>& names, const LabelValues& values,
                   const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"", Escape(values[i]), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return absl::StrCat(v);
}

}  // namespace

std::string Metrics::Render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c(*this);
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ", type, "\n");
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::kHistogram) {
        absl::StrAppend(&out, name, Labels(f.label_names, labels), " ", Num(s.value), "\n");
        continue;
      }
      const auto& bounds = LatencyBuckets();
      for (size_t i = 0; i < bounds.size(); ++i) {
        absl::StrAppend(&out, name, "_bucket",
                        Labels(f.label_names, labels, absl::StrCat("le=\"", Num(bounds[i]), "\"")),
                        " ", Num(s.buckets[i]), "\n");
      }
      absl::StrAppend(&out, name, "_bucket", Labels(f.label_names, labels, "le=\"+Inf\""), " ",
                      Num(s.count), "\n");
      absl::StrAppend(&out, name, "_sum", Labels(f.label_names, labels), " ", Num(s.sum), "\n");
      absl::StrAppend(&out, name, "_count", Labels(f.label_names, labels), " ", Num(s.count), "\n");
    }
  }
  return out;
}

}  // namespace frontdoor
