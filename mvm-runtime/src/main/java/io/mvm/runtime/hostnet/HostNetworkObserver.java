package io.mvm.runtime.hostnet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mvm.core.netpolicy.NftFamily;
import io.mvm.core.netpolicy.NftTable;
import io.mvm.core.netpolicy.ObservedHostNetwork;
import io.mvm.core.netpolicy.ObservedLink;
import io.mvm.core.netpolicy.ObservedVxlan;
import io.mvm.core.netpolicy.Overlay;
import io.mvm.model.ErrorCategory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads the live host network back: links and addresses from {@code ip -j}, mvm's tables from
 * {@code nft -j -s} (nftables' JSON, {@link NftJson}); and the desired tables in the same form.
 */
public final class HostNetworkObserver {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HostCommands host;
    /** The last desired ruleset canonicalised (its script → tables): the spec rarely changes. */
    private final java.util.concurrent.atomic.AtomicReference<Map.Entry<String, List<NftTable>>> canonical =
            new java.util.concurrent.atomic.AtomicReference<>();

    public HostNetworkObserver(HostCommands host) {
        this.host = host;
    }

    public ObservedHostNetwork observe(String tableName) {
        Map<NftFamily, NftTable> tables = new EnumMap<>(NftFamily.class);
        for (NftFamily family : NftFamily.values()) {
            table(family, tableName).ifPresent(t -> tables.put(family, t));
        }
        JsonNode root = linkJson();
        return new ObservedHostNetwork(links(root), tables, vxlans(root));
    }

    public List<ObservedLink> links() {
        return links(linkJson());
    }

    private JsonNode linkJson() {
        String out = host.runOrFail("ip", "-j", "-d", "addr", "show");
        JsonNode root;
        try {
            root = JSON.readTree(out);
        } catch (IOException e) {
            throw new HostNetworkException(ErrorCategory.INTERNAL, "cannot parse 'ip -j -d addr show' output", e);
        }
        return root;
    }

    private static List<ObservedLink> links(JsonNode root) {
        List<ObservedLink> links = new ArrayList<>();
        for (JsonNode link : root) {
            boolean up = false;
            for (JsonNode flag : link.path("flags")) {
                up |= flag.asText().equals("UP");
            }
            List<String> ipv4 = new ArrayList<>();
            for (JsonNode addr : link.path("addr_info")) {
                if (addr.path("family").asText().equals("inet")) {
                    ipv4.add(addr.path("local").asText() + "/" + addr.path("prefixlen").asInt());
                }
            }
            links.add(new ObservedLink(link.path("ifname").asText(), link.path("linkinfo").path("info_kind").asText(""),
                    text(link, "master"), up, text(link, "address"), text(link, "ifalias"), ipv4));
        }
        return links;
    }

    /**
     * mvm's VXLAN devices ({@code mvx*}) with their settings and static forwarding entries: the
     * device's own unicast FDB entries ({@code self}, with a destination host) and its IPv4
     * neighbour entries. The bridge's entries for the port are not the device's and are left out.
     */
    private Map<String, ObservedVxlan> vxlans(JsonNode root) {
        Map<String, ObservedVxlan> out = new java.util.HashMap<>();
        for (JsonNode link : root) {
            JsonNode info = link.path("linkinfo");
            String name = link.path("ifname").asText();
            if (!info.path("info_kind").asText("").equals("vxlan") || !name.startsWith(Overlay.DEVICE_PREFIX)) {
                continue;
            }
            JsonNode data = info.path("info_data");
            List<ObservedVxlan.Fdb> fdb = new ArrayList<>();
            List<String> learnt = new ArrayList<>();
            for (JsonNode e : parse(host.runOrFail("bridge", "-j", "fdb", "show", "dev", name), "bridge fdb show")) {
                boolean self = false;
                for (JsonNode flag : e.path("flags")) {
                    self |= flag.asText().equals("self");
                }
                if (self && e.has("dst") && !e.has("master")) {
                    fdb.add(new ObservedVxlan.Fdb(e.path("mac").asText(), e.path("dst").asText()));
                } else if (e.has("master") && !e.path("state").asText("").equals("permanent")) {
                    learnt.add(e.path("mac").asText());
                }
            }
            List<ObservedVxlan.Neighbour> neighbours = new ArrayList<>();
            for (JsonNode n : parse(host.runOrFail("ip", "-4", "-j", "neigh", "show", "dev", name), "ip neigh show")) {
                if (n.has("lladdr")) {
                    neighbours.add(new ObservedVxlan.Neighbour(n.path("dst").asText(), n.path("lladdr").asText()));
                }
            }
            out.put(name, new ObservedVxlan(name, data.path("id").asInt(-1), text(data, "local"),
                    data.path("port").asInt(-1), data.path("learning").asBoolean(true),
                    data.path("proxy").asBoolean(false), link.path("mtu").asInt(-1), fdb, neighbours,
                    learnt));
        }
        return out;
    }

    private static JsonNode parse(String out, String what) {
        if (out.isBlank()) {
            return JSON.createArrayNode();
        }
        try {
            return JSON.readTree(out);
        } catch (IOException e) {
            throw new HostNetworkException(ErrorCategory.INTERNAL, "cannot parse '" + what + "' output", e);
        }
    }

    /** mvm's table of one family from {@code nft -j -s list table}, or empty when there is none. */
    public Optional<NftTable> table(NftFamily family, String tableName) {
        HostCommands.CommandResult r = host.run(List.of("nft", "-j", "-s", "list", "table", family.keyword(), tableName), "");
        if (!r.ok()) {
            if (r.stderr().contains("No such file or directory")) {
                return Optional.empty();
            }
            throw new HostNetworkException(ErrorCategory.INTERNAL,
                    "'nft list table " + family.keyword() + " " + tableName + "' failed: " + r.stderr().strip());
        }
        return Optional.ofNullable(NftJson.parse(r.stdout(), tableName).get(family));
    }

    /**
     * The desired ruleset as nftables itself holds it: applied in a network namespace of its own
     * (which ends with the command: nothing touches the host's tables) and listed as JSON, so it
     * compares with {@link #table} rule for rule.
     */
    public List<NftTable> desiredTables(io.mvm.core.netpolicy.NftRuleset ruleset) {
        String script = ruleset.replaceScript();
        Map.Entry<String, List<NftTable>> cached = canonical.get();
        if (cached != null && cached.getKey().equals(script)) {
            return cached.getValue();
        }
        HostCommands.CommandResult r = host.run(List.of("unshare", "--net", "sh", "-c", "nft -f - && nft -j -s list ruleset"), script);
        if (!r.ok()) {
            throw new HostNetworkException(ErrorCategory.INTERNAL, "cannot read the desired nftables ruleset back"
                    + " (unshare --net nft -f -): " + r.stderr().strip());
        }
        Map<NftFamily, NftTable> parsed = NftJson.parse(r.stdout(), ruleset.tableName());
        List<NftTable> tables = ruleset.tables().stream()
                .map(t -> parsed.getOrDefault(t.family(), new NftTable(t.family(), t.name(), List.of()))).toList();
        canonical.set(Map.entry(script, tables));
        return tables;
    }

    private static Optional<String> text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? Optional.empty() : Optional.of(value.asText());
    }
}
