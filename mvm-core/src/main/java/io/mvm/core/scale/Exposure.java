package io.mvm.core.scale;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import io.mvm.model.MvmException;

/** How an instance is reached from outside its tenant (its routes) and when it may idle. */
public record Exposure(List<PortMapping> ports, Optional<IdlePolicy> idle) {
    public static final Exposure NONE = new Exposure(List.of(), Optional.empty());

    public Exposure {
        ports = List.copyOf(ports);
        Objects.requireNonNull(idle, "idle");
        if (idle.isPresent() && ports.isEmpty()) {
            throw MvmException.invalid("an idle policy needs at least one port: a connection to one is what wakes an"
                    + " idled instance");
        }
        var guests = new HashSet<Integer>();
        var hosts = new HashSet<Integer>();
        for (var p : ports) {
            if (!guests.add(p.guest())) {
                throw MvmException.invalid("guest port " + p.guest() + " is exposed twice");
            }
            if (p.host() != 0 && !hosts.add(p.host())) {
                throw MvmException.invalid("host port " + p.host() + " is used twice");
            }
        }
    }
}
