package io.mvm.core.netpolicy;

import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * A host service guests may reach on their bridge address. Nothing is open by default; a service
 * is opened for one tenant or, with no tenant, for all.
 */
public record OpenedService(Transport transport, int port, Optional<TenantId> tenant) {

    public enum Transport {
        TCP,
        UDP;

        public String nftName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Transport parse(String text) {
            return switch (text == null ? "" : text.toLowerCase(Locale.ROOT)) {
                case "tcp" -> TCP;
                case "udp" -> UDP;
                default -> throw MvmException.invalid("unknown transport '" + text + "': expected tcp or udp");
            };
        }
    }

    public OpenedService {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(tenant, "tenant");
        if (port < 1 || port > 65535) {
            throw MvmException.invalid("invalid port " + port + ": expected 1..65535");
        }
    }

    public boolean appliesTo(TenantId t) {
        return tenant.map(t::equals).orElse(true);
    }
}
