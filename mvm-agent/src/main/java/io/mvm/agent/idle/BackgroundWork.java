package io.mvm.agent.idle;

import io.mvm.agent.relay.GuestAccess;
import io.mvm.model.InstanceId;
import io.mvm.runtime.guest.GuestChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Background work the node can see in a guest: commands running through the guest agent for the
 * relay ({@code mvm instance exec}). Wraps the relay's {@link GuestAccess}, so an exec holds its
 * instance up for as long as it runs; the idle policy counts it like an open connection.
 */
public final class BackgroundWork implements GuestAccess {
    private final GuestAccess guests;
    private final Map<InstanceId, AtomicInteger> running = new ConcurrentHashMap<>();

    public BackgroundWork(GuestAccess guests) {
        this.guests = guests;
    }

    /** Commands running in the instance's guest now. */
    public int running(InstanceId id) {
        var n = running.get(id);
        return n == null ? 0 : n.get();
    }

    @Override
    public GuestChannel.ExecResult exec(InstanceId id, GuestChannel.ExecRequest request, GuestChannel.ExecOutput output) {
        var n = running.computeIfAbsent(id, k -> new AtomicInteger());
        n.incrementAndGet();
        try {
            return guests.exec(id, request, output);
        } finally {
            n.decrementAndGet();
        }
    }

    @Override
    public String consoleTail(InstanceId id, int lines) {
        return guests.consoleTail(id, lines);
    }

    @Override
    public GuestChannel.WorkloadStatus workload(InstanceId id) {
        return guests.workload(id);
    }

    @Override
    public io.mvm.agent.runtime.ClaimReport claim(io.mvm.core.reconcile.InstanceSpec spec) {
        return guests.claim(spec);
    }
}
