package io.mvm.cli.net;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mvm.cli.ExitCodes;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.netpolicy.NetworkDrift;
import io.mvm.model.ErrorCategory;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code mvm net verify}: compares the host with the desired state; exits non-zero on drift. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Check this host's bridges, ports, VXLAN devices (with their FDB and neighbour entries) and",
                "nftables tables against the desired network state.",
                "Exit status 0 when they match, 5 when there is drift (listed one per line)."})
final class NetVerifyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    HostTarget target;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        HostNetworkSpec desired = target.desired();
        List<NetworkDrift> drift = target.applier().verify(desired);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ObjectNode root = mapper.createObjectNode();
            root.put("table", desired.tableName());
            root.put("clean", drift.isEmpty());
            ArrayNode items = root.putArray("drift");
            drift.forEach(d -> items.addObject().put("kind", d.kind()).put("description", d.describe()));
            ArrayNode vxlans = root.putArray("vxlan");
            for (var t : desired.overlayTenants()) {
                ObjectNode v = vxlans.addObject().put("device", io.mvm.core.netpolicy.Overlay.device(t))
                        .put("vni", io.mvm.core.netpolicy.Overlay.vni(t)).put("tenant", t.tenant().value());
                ArrayNode fdb = v.putArray("fdb");
                desired.remotesOf(t.tenant()).forEach(r -> fdb.addObject().put("instance", r.instance().value())
                        .put("mac", r.mac().value()).put("address", r.address().toString())
                        .put("host", r.host().toString()));
            }
            out.println(mapper.writeValueAsString(root));
        } else if (drift.isEmpty()) {
            out.println("host network matches the desired state (table " + desired.tableName() + ": "
                    + desired.tenants().size() + " tenant(s), " + desired.instances().size() + " instance(s), "
                    + desired.overlayTenants().size() + " vxlan device(s) with " + desired.remotes().size()
                    + " remote instance(s))");
        } else {
            drift.forEach(d -> out.println("drift: " + d.describe()));
            out.println(drift.size() + " difference(s); 'mvm net apply' (or the agent's next reconcile) repairs them");
        }
        out.flush();
        return drift.isEmpty() ? ExitCodes.OK : ExitCodes.of(ErrorCategory.FAILED_PRECONDITION);
    }

}
