package io.mvm.runtime.hostnet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mvm.core.netpolicy.GatewayRoute;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.InstancePort;
import io.mvm.core.netpolicy.Ipv4Address;
import io.mvm.core.netpolicy.Ipv4Subnet;
import io.mvm.core.netpolicy.MacAddress;
import io.mvm.core.netpolicy.Overlay;
import io.mvm.core.netpolicy.RemotePort;
import io.mvm.core.netpolicy.StandbyPort;
import io.mvm.core.netpolicy.DeviceNames;
import io.mvm.core.netpolicy.OpenedService;
import io.mvm.core.netpolicy.PortKind;
import io.mvm.core.netpolicy.TenantNetwork;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The desired host network as a versioned JSON document: what the agent last applied, and what
 * {@code mvm net verify} checks the host against. Written atomically (temp file, fsync, rename).
 * The JSON shape is a wire format only; it is parsed into {@link HostNetworkSpec}, whose
 * constructor validates it. Port name, MAC and kind may be omitted: they default to the tap name
 * and MAC derived from the instance id.
 */
public final class HostNetworkStateFile {
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private HostNetworkStateFile() {}

    /** Where the agent keeps the host's desired network under a data directory. */
    public static Path defaultPath(Path dataDir) {
        return dataDir.resolve("net").resolve("desired-network.json");
    }

    public static HostNetworkSpec read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw MvmException.notFound("no desired network state at " + file
                    + " (nothing applied yet; pass --state FILE or run 'mvm net apply --state FILE')");
        } catch (IOException e) {
            throw new HostNetworkException(ErrorCategory.UNAVAILABLE, "cannot read " + file + ": " + e.getMessage(), e);
        }
        return parse(text, file.toString());
    }

    public static HostNetworkSpec parse(String text, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw MvmException.invalid(source + " is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw MvmException.invalid(source + ": expected a JSON object");
        }
        int version = root.path("version").asInt(VERSION);
        if (version != VERSION) {
            throw MvmException.invalid(source + ": unsupported version " + version + ", expected " + VERSION);
        }
        String table = root.path("table").asText(HostNetworkSpec.DEFAULT_TABLE);
        Optional<String> uplink = optionalText(root, "uplink");
        List<TenantNetwork> tenants = new ArrayList<>();
        for (JsonNode t : root.path("tenants")) {
            List<GatewayRoute> routes = new ArrayList<>();
            for (JsonNode r : t.path("gateway_routes")) {
                routes.add(new GatewayRoute(Ipv4Subnet.parse(required(r, "destination", source)),
                        Ipv4Address.parse(required(r, "via", source))));
            }
            JsonNode netId = t.path("net_id");
            if (!netId.canConvertToInt()) {
                throw MvmException.invalid(source + ": tenant " + t.path("tenant").asText("?") + " needs an integer net_id");
            }
            tenants.add(new TenantNetwork(TenantId.of(required(t, "tenant", source)), netId.asInt(),
                    Ipv4Subnet.parse(required(t, "subnet", source)), t.path("egress").asBoolean(false), routes));
        }
        List<InstancePort> instances = new ArrayList<>();
        for (JsonNode i : root.path("instances")) {
            InstanceId id = InstanceId.of(required(i, "instance", source));
            instances.add(new InstancePort(id, TenantId.of(required(i, "tenant", source)),
                    optionalText(i, "port").orElse(DeviceNames.tap(id)),
                    optionalText(i, "mac").map(MacAddress::parse).orElse(MacAddress.forInstance(id)),
                    Ipv4Address.parse(required(i, "address", source)),
                    Role.parse(i.path("role").asText(Role.DEFAULT.wireName())),
                    optionalText(i, "kind").map(HostNetworkStateFile::kind).orElse(PortKind.TAP)));
        }
        List<OpenedService> services = new ArrayList<>();
        for (JsonNode s : root.path("opened_services")) {
            services.add(new OpenedService(OpenedService.Transport.parse(required(s, "transport", source)),
                    s.path("port").asInt(-1), optionalText(s, "tenant").map(TenantId::of)));
        }
        Optional<Overlay> overlay = optionalText(root, "underlay").map(a -> new Overlay(Ipv4Address.parse(a)));
        List<RemotePort> remotes = new ArrayList<>();
        for (JsonNode r : root.path("remotes")) {
            InstanceId id = InstanceId.of(required(r, "instance", source));
            remotes.add(new RemotePort(id, TenantId.of(required(r, "tenant", source)),
                    optionalText(r, "mac").map(MacAddress::parse).orElse(MacAddress.forInstance(id)),
                    Ipv4Address.parse(required(r, "address", source)), Ipv4Address.parse(required(r, "host", source))));
        }
        List<StandbyPort> standby = new ArrayList<>();
        for (JsonNode p : root.path("standby")) {
            InstanceId id = InstanceId.of(required(p, "instance", source));
            standby.add(new StandbyPort(id, optionalText(p, "port").orElse(DeviceNames.tap(id)),
                    optionalText(p, "mac").map(MacAddress::parse).orElse(MacAddress.forInstance(id))));
        }
        return new HostNetworkSpec(table, uplink, tenants, instances, services, standby, overlay, remotes);
    }

    public static String render(HostNetworkSpec spec) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", VERSION);
        root.put("table", spec.tableName());
        spec.uplink().ifPresent(u -> root.put("uplink", u));
        ArrayNode tenants = root.putArray("tenants");
        for (TenantNetwork t : spec.tenants()) {
            ObjectNode n = tenants.addObject();
            n.put("tenant", t.tenant().value());
            n.put("net_id", t.netId());
            n.put("subnet", t.subnet().toString());
            n.put("egress", t.egress());
            ArrayNode routes = n.putArray("gateway_routes");
            for (GatewayRoute r : t.gatewayRoutes()) {
                routes.addObject().put("destination", r.destination().toString()).put("via", r.via().toString());
            }
        }
        ArrayNode instances = root.putArray("instances");
        for (InstancePort p : spec.instances()) {
            instances.addObject().put("instance", p.instance().value()).put("tenant", p.tenant().value())
                    .put("address", p.address().toString()).put("role", p.role().wireName())
                    .put("port", p.portName()).put("mac", p.mac().value())
                    .put("kind", p.kind().name().toLowerCase(Locale.ROOT));
        }
        ArrayNode services = root.putArray("opened_services");
        for (OpenedService s : spec.openedServices()) {
            ObjectNode n = services.addObject().put("transport", s.transport().nftName()).put("port", s.port());
            s.tenant().ifPresent(t -> n.put("tenant", t.value()));
        }
        if (!spec.standby().isEmpty()) {
            // An agent's warm VMs: their taps are part of the state `mvm net verify` checks.
            ArrayNode standby = root.putArray("standby");
            spec.standby().forEach(p -> standby.addObject().put("instance", p.instance().value())
                    .put("port", p.portName()).put("mac", p.mac().value()));
        }
        spec.overlay().ifPresent(o -> root.put("underlay", o.underlay().toString()));
        if (!spec.remotes().isEmpty()) {
            ArrayNode remotes = root.putArray("remotes");
            for (RemotePort r : spec.remotes()) {
                remotes.addObject().put("instance", r.instance().value()).put("tenant", r.tenant().value())
                        .put("address", r.address().toString()).put("mac", r.mac().value())
                        .put("host", r.host().toString());
            }
        }
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (IOException e) {
            throw MvmException.internal("cannot render the desired network state", e);
        }
    }

    /** Writes the state so a crash leaves either the old file or the new one, never half of either. */
    public static void write(Path file, HostNetworkSpec spec) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new HostNetworkException(ErrorCategory.UNAVAILABLE, "cannot write " + file + ": " + e.getMessage(), e);
        }
        io.mvm.files.AtomicFile.write(file, render(spec).getBytes(StandardCharsets.UTF_8));
    }

    private static PortKind kind(String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "tap" -> PortKind.TAP;
            case "veth" -> PortKind.VETH;
            default -> throw MvmException.invalid("unknown port kind '" + text + "': expected tap or veth");
        };
    }

    private static String required(JsonNode node, String field, String source) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull() || value.asText().isEmpty()) {
            throw MvmException.invalid(source + ": missing \"" + field + "\" in " + node);
        }
        return value.asText();
    }

    private static Optional<String> optionalText(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? Optional.empty() : Optional.of(value.asText());
    }
}
