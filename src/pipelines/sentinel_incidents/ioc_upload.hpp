// The IOC upload of a non-clean incident URL (outbox kind "sentinel_incident_iocs", key
// sentinel-incident-iocs:<incident>:<sample id>): reads the sample's IOCs from VMRay, maps
// them with the TI feed's STIX mapping (malicious and suspicious IOCs, labels as the original
// enrichment app made them, incident_id = the incident number) and uploads them through the
// feed's paced uploader. Ids are deterministic, so a repeat updates the same objects. Objects
// Sentinel refuses are named in the reason, not retried (the same object would be refused again).
#pragma once

#include "clients/sentinel/ti_upload.hpp"
#include "clients/vmray/client.hpp"
#include "jobs/handler.hpp"
#include "pipelines/defender_alerts/indicator_mapping.hpp"
#include "pipelines/sentinel_incidents/options.hpp"

namespace vc::sentinel_incidents {

class IocUploadWriter final : public jobs::OutboxHandler {
 public:
  IocUploadWriter(IncidentOptions options, vmray::Client& vmray, sentinel::TiUploader& uploader,
                  Clock& clock, defender::AllowList allow_list)
      : options_(std::move(options)),
        vmray_(vmray),
        uploader_(uploader),
        clock_(clock),
        allow_list_(std::move(allow_list)) {}
  std::string kind() const override { return std::string(kIocKind); }
  jobs::Delivery Deliver(const store::OutboxItem& item, TimePoint now) override;

 private:
  IncidentOptions options_;
  vmray::Client& vmray_;
  sentinel::TiUploader& uploader_;
  Clock& clock_;
  defender::AllowList allow_list_;
};

}  // namespace vc::sentinel_incidents
