// Metrics registry (prometheus-cpp core), exposed as Prometheus text on the ops listener.
// Metric names and help texts live in one table in metrics.cpp so every metric is documented.
// Labels must stay low-cardinality: service, operation, status class, job kind, state, code;
// never alert ids, hashes or tenant ids.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace vc {

using Labels = std::map<std::string, std::string>;

class Metrics {
 public:
  Metrics();
  static Metrics& Global();

  void Inc(const std::string& name, const Labels& labels = {}, double value = 1.0);
  void Set(const std::string& name, const Labels& labels, double value);
  void Observe(const std::string& name, const Labels& labels, double value);

  // Current value of a counter or gauge with exactly these labels (0 if never touched).
  double Value(const std::string& name, const Labels& labels = {}) const;
  std::string Serialize() const;
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  prometheus::Family<prometheus::Counter>& CounterFamily(const std::string& name);
  prometheus::Family<prometheus::Gauge>& GaugeFamily(const std::string& name);
  prometheus::Family<prometheus::Histogram>& HistogramFamily(const std::string& name);

  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex mu_;
  std::map<std::string, prometheus::Family<prometheus::Counter>*> counters_;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauges_;
  std::map<std::string, prometheus::Family<prometheus::Histogram>*> histograms_;
};

}  // namespace vc
