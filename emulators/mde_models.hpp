// The MDE entities the emulator serves (Alert, Machine, MachineAction, library file), their
// enumerations and the realistic defaults a seed is completed with. The defaults are taken from
// the real documents under tests/fixtures/real/mde/ and compiled in, so the emulator binary
// works from the build tree alone; a test checks that they still have the fixtures' shape.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/json.hpp"

namespace vc::emu::mde {

// MDE writes UTC with seven fractional digits: "2021-01-26T20:33:57.7220239Z".
std::string FormatTime(TimePoint t);

inline constexpr std::string_view kAlertStatuses[] = {"Unknown", "New", "InProgress", "Resolved"};
inline constexpr std::string_view kAlertSeverities[] = {"UnSpecified", "Informational", "Low",
                                                        "Medium", "High"};
inline constexpr std::string_view kAlertClassifications[] = {
    "TruePositive", "InformationalExpectedActivity", "FalsePositive"};
inline constexpr std::string_view kAlertDeterminations[] = {"NotAvailable",
                                                            "Apt",
                                                            "Malware",
                                                            "SecurityPersonnel",
                                                            "SecurityTesting",
                                                            "UnwantedSoftware",
                                                            "Other",
                                                            "MultiStagedAttack",
                                                            "Phishing",
                                                            "MaliciousUserActivity",
                                                            "CompromisedAccount",
                                                            "ConfirmedUserActivity",
                                                            "LineOfBusinessApplication",
                                                            "Clean",
                                                            "InsufficientData"};
inline constexpr std::string_view kActionStatuses[] = {"Pending", "InProgress", "Succeeded",
                                                       "Failed",  "TimeOut",    "Cancelled"};
inline constexpr std::string_view kActionTypes[] = {"RunAntiVirusScan",
                                                    "Offboard",
                                                    "LiveResponse",
                                                    "CollectInvestigationPackage",
                                                    "Isolate",
                                                    "Unisolate",
                                                    "StopAndQuarantineFile",
                                                    "RestrictCodeExecution",
                                                    "UnrestrictCodeExecution"};
inline constexpr std::string_view kHealthStatuses[] = {"Active",
                                                       "Inactive",
                                                       "ImpairedCommunication",
                                                       "NoSensorData",
                                                       "NoSensorDataImpairedCommunication",
                                                       "Unknown"};
// WindowsDefenderATP application roles.
inline constexpr std::string_view kPermissions[] = {"Alert.Read.All",
                                                    "Alert.ReadWrite.All",
                                                    "Machine.Read.All",
                                                    "Machine.ReadWrite.All",
                                                    "Machine.LiveResponse",
                                                    "Machine.Isolate",
                                                    "Machine.Scan",
                                                    "Machine.StopAndQuarantine",
                                                    "Machine.CollectForensics",
                                                    "Machine.RestrictExecution",
                                                    "Machine.Offboard",
                                                    "Library.Manage",
                                                    "Ti.ReadWrite",
                                                    "Ti.ReadWrite.All"};

template <size_t N>
bool OneOf(std::string_view value, const std::string_view (&set)[N]) {
  for (auto v : set) {
    if (v == value) return true;
  }
  return false;
}
template <size_t N>
std::string JoinSet(const std::string_view (&set)[N]) {
  std::string out;
  for (auto v : set) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

// Fields of an Alert without evidence and comments, with the fixture's values.
const Json& AlertTemplate();
// Every Evidence field, null; entityType "File".
const Json& EvidenceTemplate();
// Every Machine field of the XSOAR capture, with its values (no @odata.context).
const Json& MachineTemplate();

// Completes an alert seed: every field of the template must be known, values are type-checked,
// missing ones take the template's value (times: `now`; incidentId: `default_incident_id`).
// `existing` is the current alert when the seed re-seeds an id. On success returns the alert
// with "comments" and "evidence"; on failure a description naming the field.
struct SeedResult {
  Json entity;
  std::string problem;  // empty on success
};
SeedResult CompleteAlert(const Json& seed, const Json* existing, TimePoint now,
                         int64_t default_incident_id);

// Same for a machine's public fields (the seed's private keys are handled by the emulator).
SeedResult CompleteMachine(const Json& seed, const Json* existing, TimePoint now);

}  // namespace vc::emu::mde
