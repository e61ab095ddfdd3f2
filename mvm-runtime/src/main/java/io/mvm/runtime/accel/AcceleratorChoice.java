package io.mvm.runtime.accel;

import io.mvm.model.Accelerator;
import java.time.Instant;

/**
 * The accelerator this host uses for VMs, and why (probe outcome or override). Cached in
 * {@code <dataDir>/accelerator.json}.
 *
 * @param kernel the guest kernel the probe booted; a different kernel means probing again
 */
public record AcceleratorChoice(Accelerator accelerator, String reason, Instant decidedAt, String kernel) {}
