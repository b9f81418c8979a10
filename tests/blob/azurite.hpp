// The real Azurite blob emulator (app::AzuriteProcess) for tests, so the Blob client and the
// quarantine hand-off are tested against the service's own request checking: Shared Key and
// SAS signatures, naming, error bodies. One instance per test process, started on first use.
#pragma once

#include <string>

#include "app/azurite_process.hpp"
#include "core/result.hpp"

namespace vc::test {

using AzuriteProcess = app::AzuriteProcess;

// The azurite-blob executable, or an error telling to run `scripts/azurite.sh install`.
// VC_AZURITE_BLOB in the environment overrides the project-local installation.
Result<std::string> AzuriteBlobBinary();

// The shared instance of this test process, started on the first call. An error (Azurite not
// installed, did not start) is returned to every caller, so each test fails with the reason.
Result<AzuriteProcess*> SharedAzurite();

}  // namespace vc::test
