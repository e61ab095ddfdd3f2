package io.mvm.runtime.guest;

import io.mvm.model.MvmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.random.RandomGenerator;
import java.util.regex.Pattern;

/**
 * What makes a restored guest its own machine again, sent in one {@code clone-identity} call. A
 * clone starts as a byte-for-byte copy of its template (RNG state, clock, hostname, NIC, machine-id)
 * and a woken VM as a copy of an earlier moment (RNG state, clock): microvm has no vmgenid and,
 * under TCG, no kvmclock, so the host has to tell the guest. Every optional part that is empty is
 * left alone in the guest; the entropy, the clock and the generation bump always happen.
 *
 * @param entropy   fresh host randomness mixed into the guest's pool (at least 64 bytes)
 * @param now       the host's clock; the guest sets its own to it (whole seconds: busybox date)
 * @param network   the clone's own MAC and address, when the VM has a NIC
 * @param machineId 32 lower-case hex digits, written to /run/machine-id (/etc/machine-id links there)
 * @param remountDrives whether the guest remounts its read-only secrets and config drives, whose
 *                  files the host rebuilt for this VM
 * @param cmd       a workload to start once the identity is in place (a clone's own), or empty
 */
public record GuestIdentity(byte[] entropy, Instant now, Optional<String> hostname, Optional<Network> network,
                            Optional<String> machineId, boolean remountDrives, Optional<String> cmd,
                            Map<String, String> env) {
    public static final int MIN_ENTROPY_BYTES = 64;
    private static final Pattern MACHINE_ID = Pattern.compile("[0-9a-f]{32}");

    /** @param cidr e.g. 10.0.0.5/24; {@code gateway} may be null */
    public record Network(String mac, String cidr, String gateway) {}

    public GuestIdentity {
        if (entropy == null || entropy.length < MIN_ENTROPY_BYTES) {
            throw MvmException.invalid("a guest identity needs at least " + MIN_ENTROPY_BYTES + " bytes of entropy");
        }
        entropy = entropy.clone();
        machineId.ifPresent(id -> {
            if (!MACHINE_ID.matcher(id).matches()) {
                throw MvmException.invalid("a machine-id is 32 lower-case hex digits, got '" + id + "'");
            }
        });
        env = Map.copyOf(env);
    }

    /** A woken VM keeps its identity; only its RNG, clock and generation move on. */
    public static GuestIdentity afterWake(Instant now, RandomGenerator random) {
        return new GuestIdentity(entropy(random), now, Optional.empty(), Optional.empty(), Optional.empty(), false,
                Optional.empty(), Map.of());
    }

    /** A clone becomes a machine of its own: everything above plus a new machine-id and its drives. */
    public static GuestIdentity forClone(Instant now, RandomGenerator random, String hostname, Optional<Network> network,
                                         Optional<String> cmd, Map<String, String> env) {
        byte[] id = new byte[16];
        random.nextBytes(id);
        return new GuestIdentity(entropy(random), now, Optional.of(hostname), network,
                Optional.of(HexFormat.of().formatHex(id)), true, cmd, env);
    }

    private static byte[] entropy(RandomGenerator random) {
        byte[] bytes = new byte[MIN_ENTROPY_BYTES];
        random.nextBytes(bytes);
        return bytes;
    }

    @Override
    public byte[] entropy() {
        return entropy.clone();
    }

    @Override
    public String toString() {
        // The entropy seeds the guest's RNG: never in a log line.
        return "GuestIdentity[now=" + now + ", hostname=" + hostname + ", network=" + network + ", machineId="
                + machineId + ", remountDrives=" + remountDrives + ", cmd=" + cmd.isPresent() + "]";
    }
}
