#ifndef FRONTDOOR_SERVICES_COMMON_METRICS_H_
#define FRONTDOOR_SERVICES_COMMON_METRICS_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace frontdoor {

// Label values in the order of the metric's label names.
using LabelValues = std::vector<std::string>;

// A small Prometheus registry: counters, gauges and latency histograms with
// labels, rendered in the text exposition format. Thread-safe.
class Metrics {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a metric; later calls with the same name are ignored.
  void Declare(const std::string& name, Type type, const std::string& help,
               std::vector<std::string> label_names);

  void Increment(const std::string& name, const LabelValues& labels, double by = 1);
  void Set(const std::string& name, const LabelValues& labels, double value);
  // Records one observation (seconds for latencies).
  void Observe(const std::string& name, const LabelValues& labels, double value);

  // Gauges computed when scraped (e.g. counts read from the store).
  void AddCollector(std::function<void(Metrics&)> collector);

  // The Prometheus text format.
  std::string Render();

  // Reads a counter or gauge (0 if never set), for tests.
  double Value(const std::string& name, const LabelValues& labels);

 private:
  struct Series {
    double value = 0;
    std::vector<double> buckets;  // histogram: cumulative counts per bound
    double sum = 0;
    double count = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<std::string> label_names;
    std::map<LabelValues, Series> series;
  };
  Series& SeriesFor(const std::string& name, const LabelValues& labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(Metrics&)>> collectors_ ABSL_GUARDED_BY(mu_);
};

// Histogram bucket bounds (seconds): 100 µs to 10 s.
const std::vector<double>& LatencyBuckets();

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_METRICS_H_
