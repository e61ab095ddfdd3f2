package io.mvm.runtime.doctor;

/** One thing {@code mvm doctor} verifies on this host. Implementations never throw. */
@FunctionalInterface
public interface HostCheck {
    CheckResult run();
}
