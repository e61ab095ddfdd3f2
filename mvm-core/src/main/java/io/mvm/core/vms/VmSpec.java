package io.mvm.core.vms;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A validated {@code /vms} spec. {@code secrets} are write-only: never shown, never hashed, never
 * logged. {@code image} is a template name, or rootfs/kernel names of images in the data dir, or
 * neither (the default image).
 */
public record VmSpec(Optional<String> template, Optional<String> rootfs, Optional<String> kernel, List<String> cmd,
                     Map<String, String> env, Map<String, String> secrets, int vcpu, long memMb, Lifecycle lifecycle,
                     int warmMin, int warmMax, List<PortSpec> ports, Optional<io.mvm.core.scale.IdlePolicy> idle) {

    public VmSpec {
        java.util.Objects.requireNonNull(idle, "idle");
        cmd = List.copyOf(cmd);
        env = Map.copyOf(env);
        secrets = Map.copyOf(secrets);
        ports = List.copyOf(ports);
    }

    /** A port the instance exposes: {@code host = 0} lets the node pick one. */
    public record PortSpec(int guest, int host, String protocol) {}

    /** The same spec without secrets (what may be stored and shown). */
    public VmSpec withoutSecrets() {
        return new VmSpec(template, rootfs, kernel, cmd, env, Map.of(), vcpu, memMb, lifecycle, warmMin, warmMax, ports,
                idle);
    }

    @Override
    public String toString() {
        return "VmSpec[cmd=" + cmd + ", vcpu=" + vcpu + ", memMb=" + memMb + ", lifecycle=" + lifecycle.wireName()
                + ", secrets=" + secrets.keySet() + "]";
    }
}
