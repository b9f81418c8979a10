#include "core/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>
#include <stdexcept>

namespace vc {
namespace {

struct MetricInfo {
  const char* help;
  prometheus::Histogram::BucketBoundaries buckets;
};

// Every metric the connector exports. An unknown name is a programming error.
const std::map<std::string, MetricInfo>& Catalogue() {
  static const std::map<std::string, MetricInfo> kMetrics = {
      {"vc_http_requests_total",
       {"HTTP requests sent, by service, operation and status class", {}}},
      {"vc_http_retries_total", {"HTTP attempts retried, by service and reason", {}}},
      {"vc_http_throttled_total", {"HTTP 429 answers received, by service", {}}},
      {"vc_http_request_seconds",
       {"HTTP request latency by service",
        {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}}},
      {"vc_errors_total", {"Errors that failed a job step, by error code", {}}},
      {"vc_token_refreshes_total",
       {"Entra access tokens fetched, by resource kind and reason", {}}},
      {"vc_rate_limiter_waits_total", {"Requests delayed by a local rate limiter, by limiter", {}}},
      {"vc_rate_limiter_utilisation", {"Fraction of the tightest window used, by limiter", {}}},
      {"vc_job_transitions_total", {"Job state transitions, by kind, from and to", {}}},
      {"vc_jobs", {"Jobs by kind and state", {}}},
      {"vc_oldest_due_job_age_seconds", {"Age of the oldest job that is due but not yet run", {}}},
      {"vc_outbox_items", {"Write-backs by kind and state (pending is the write-back queue)", {}}},
      {"vc_ready", {"1 when every /readyz check passes, else 0", {}}},
      {"vc_last_successful_poll_timestamp_seconds",
       {"Unix time of the last successful poll, by job (alert on time() minus this)", {}}},
      {"vc_analysis_wait_seconds",
       {"Time from VMRay submission to verdict", {10, 30, 60, 120, 300, 600, 1200, 1800, 3600}}},
      {"vc_live_response_outcomes_total", {"Live Response collections by outcome class", {}}},
      {"vc_alerts_polled_total", {"MDE alerts read by the poller, by outcome", {}}},
      {"vc_writebacks_total", {"Write-backs delivered, by kind and outcome", {}}},
      {"vc_dry_run_writebacks_total",
       {"Write-backs a dry run logged instead of writing, by kind", {}}},
      {"vc_vmray_submissions_total", {"Samples submitted to VMRay, by kind", {}}},
      {"vc_vmray_budget_used_today",
       {"Units of today's VMRay submission budget in use (UTC day)", {}}},
      {"vc_vmray_budget_skipped_total",
       {"Evidences skipped because the daily VMRay submission budget was reached, by kind", {}}},
      {"vc_analysis_slot_waits_total",
       {"Submissions that had to wait for a VMRay analysis slot (vmray.max_concurrent_analyses)",
        {}}},
      {"vc_indicator_values_skipped_total",
       {"IOC values not imported as MDE indicators, by reason", {}}},
      {"vc_indicator_imports_total",
       {"MDE indicators imported, by outcome (imported, failed)", {}}},
      {"vc_indicators_evicted_total",
       {"Connector indicators deleted from MDE to stay within the budget", {}}},
      {"vc_ti_feed_objects_total",
       {"Sentinel TI feed STIX indicators, by outcome (uploaded, rejected, skipped)", {}}},
      {"vc_sentinel_ti_throttled_total",
       {"Sentinel STIX upload answers 429 that the uploader waited out", {}}},
      {"vc_incident_writebacks_total",
       {"Incident tag and comment deliveries through Microsoft Graph, by kind and outcome", {}}},
      {"vc_response_actions_total",
       {"Automated MDE response actions (isolate, scan, ...), by action and outcome", {}}},
      {"vc_enrichment_requests_total",
       {"Requests to the enrichment API, by route and HTTP status", {}}},
  };
  return kMetrics;
}

const MetricInfo& Lookup(const std::string& name) {
  auto it = Catalogue().find(name);
  if (it == Catalogue().end()) throw std::logic_error("unknown metric " + name);
  return it->second;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

Metrics& Metrics::Global() {
  static Metrics metrics;
  return metrics;
}

prometheus::Family<prometheus::Counter>& Metrics::CounterFamily(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = counters_[name];
  if (!slot) {
    slot = &prometheus::BuildCounter().Name(name).Help(Lookup(name).help).Register(*registry_);
  }
  return *slot;
}

prometheus::Family<prometheus::Gauge>& Metrics::GaugeFamily(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = gauges_[name];
  if (!slot) {
    slot = &prometheus::BuildGauge().Name(name).Help(Lookup(name).help).Register(*registry_);
  }
  return *slot;
}

prometheus::Family<prometheus::Histogram>& Metrics::HistogramFamily(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = histograms_[name];
  if (!slot) {
    slot = &prometheus::BuildHistogram().Name(name).Help(Lookup(name).help).Register(*registry_);
  }
  return *slot;
}

void Metrics::Inc(const std::string& name, const Labels& labels, double value) {
  CounterFamily(name).Add(labels).Increment(value);
}

void Metrics::Set(const std::string& name, const Labels& labels, double value) {
  GaugeFamily(name).Add(labels).Set(value);
}

void Metrics::Observe(const std::string& name, const Labels& labels, double value) {
  HistogramFamily(name).Add(labels, Lookup(name).buckets).Observe(value);
}

double Metrics::Value(const std::string& name, const Labels& labels) const {
  for (const auto& family : registry_->Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      Labels got;
      for (const auto& l : m.label) got[l.name] = l.value;
      if (got != labels) continue;
      if (family.type == prometheus::MetricType::Counter) return m.counter.value;
      if (family.type == prometheus::MetricType::Gauge) return m.gauge.value;
      if (family.type == prometheus::MetricType::Histogram) {
        return static_cast<double>(m.histogram.sample_count);
      }
    }
  }
  return 0;
}

std::string Metrics::Serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace vc
