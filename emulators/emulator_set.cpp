#include "emulator_set.hpp"

namespace vc::emu {

EmulatorSetOptions EmulatorSetOptions::FromJson(const Json& j) {
  EmulatorSetOptions o;
  if (j.contains("entra")) o.entra = EntraEmulator::Options::FromJson(j["entra"]);
  if (j.contains("vmray")) o.vmray = VmrayEmulator::Options::FromJson(j["vmray"]);
  if (j.contains("mde")) o.mde = MdeEmulator::Options::FromJson(j["mde"]);
  if (j.contains("graph")) o.graph = GraphEmulator::Options::FromJson(j["graph"]);
  if (j.contains("sentinel")) o.sentinel = SentinelEmulator::Options::FromJson(j["sentinel"]);
  return o;
}

EmulatorSet::EmulatorSet(EmulatorSetOptions options, Clock& clock)
    : entra_(std::make_unique<EntraEmulator>(std::move(options.entra), clock, tokens_)),
      vmray_(std::make_unique<VmrayEmulator>(std::move(options.vmray), clock, tokens_)),
      mde_(std::make_unique<MdeEmulator>(std::move(options.mde), clock, tokens_)),
      graph_(std::make_unique<GraphEmulator>(std::move(options.graph), clock, tokens_)),
      sentinel_(std::make_unique<SentinelEmulator>(std::move(options.sentinel), clock, tokens_)) {
  // Comment authors and action requestors are the app that holds the token, as in MDE.
  mde_->SetTokenOwnerLookup([e = entra_.get()](const std::string& t) { return e->ClientIdOf(t); });
  // Graph knows the incidents of the alerts MDE holds, as in one tenant.
  graph_->SetIncidentLookup([m = mde_.get()](int64_t incident_id) {
    const Json state = m->StateJson();
    for (const auto& alert : state["alerts"]) {
      auto it = alert.find("incidentId");
      if (it != alert.end() && it->is_number_integer() && it->get<int64_t>() == incident_id)
        return true;
    }
    return false;
  });
}

EmulatorSet::~EmulatorSet() {
  Stop();
}

void EmulatorSet::Start() {
  entra_->Start();
  vmray_->Start();
  mde_->Start();
  graph_->Start();
  sentinel_->Start();
}

void EmulatorSet::Stop() {
  sentinel_->Stop();
  graph_->Stop();
  mde_->Stop();
  vmray_->Stop();
  entra_->Stop();
}

Json EmulatorSet::Endpoints() const {
  return {{"entra", entra_->BaseUrl()},
          {"vmray", vmray_->BaseUrl()},
          {"mde", mde_->BaseUrl()},
          {"graph", graph_->BaseUrl()},
          {"sentinel", sentinel_->BaseUrl()}};
}

std::optional<std::string> EmulatorSet::Seed(const Json& seed) {
  if (!seed.is_object()) return "seed must be a JSON object";
  for (auto& [name, server] : std::initializer_list<std::pair<const char*, EmulatorServer*>>{
           {"entra", entra_.get()},
           {"vmray", vmray_.get()},
           {"mde", mde_.get()},
           {"graph", graph_.get()},
           {"sentinel", sentinel_.get()}}) {
    if (seed.contains(name)) {
      if (auto problem = server->Seed(seed[name])) return std::string(name) + ": " + *problem;
    }
  }
  return std::nullopt;
}

std::vector<std::string> EmulatorSet::AssertionFailures() const {
  std::vector<std::string> out;
  for (const EmulatorServer* s : std::initializer_list<const EmulatorServer*>{
           entra_.get(), vmray_.get(), mde_.get(), graph_.get(), sentinel_.get()}) {
    for (auto& a : s->AssertionFailures()) out.push_back(s->name() + ": " + a);
  }
  return out;
}

}  // namespace vc::emu
