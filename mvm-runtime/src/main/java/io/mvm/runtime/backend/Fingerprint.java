package io.mvm.runtime.backend;

import io.mvm.model.Accelerator;

/**
 * Live facts about a backend on this host, re-read on demand (Nomad's {@code Fingerprint()}).
 *
 * @param acceleratorReason why this accelerator was chosen (probe result or override)
 */
public record Fingerprint(String backend, String version, Accelerator accelerator, String acceleratorReason) {}
