package io.mvm.tls;

import io.mvm.model.NodeId;
import java.security.cert.X509Certificate;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * Who a certificate of the cluster CA speaks for. The CA writes the subject itself (a CSR's own
 * subject is ignored), so {@code OU=node, CN=<node id>} and {@code OU=coordinator} can be told
 * apart: a node's certificate never passes for the coordinator's, nor for another node's.
 */
public sealed interface PeerIdentity {
    String ORG = "mvm";
    String NODE_UNIT = "node";
    String COORDINATOR_UNIT = "coordinator";

    record Node(NodeId node) implements PeerIdentity {}

    record Coordinator() implements PeerIdentity {}

    static String nodeSubject(NodeId node) {
        return "CN=" + Rdn.escapeValue(node.value()) + ",OU=" + NODE_UNIT + ",O=" + ORG;
    }

    static String coordinatorSubject() {
        return "CN=mvm-coordinator,OU=" + COORDINATOR_UNIT + ",O=" + ORG;
    }

    /** The identity in a (chain-checked) certificate's subject; empty when it names neither kind. */
    static Optional<PeerIdentity> of(X509Certificate cert) {
        String cn = null;
        String ou = null;
        String o = null;
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                String v = String.valueOf(rdn.getValue());
                switch (rdn.getType().toUpperCase(java.util.Locale.ROOT)) {
                    case "CN" -> cn = v;
                    case "OU" -> ou = v;
                    case "O" -> o = v;
                    default -> { }
                }
            }
        } catch (InvalidNameException e) {
            return Optional.empty();
        }
        if (!ORG.equals(o) || ou == null || cn == null) {
            return Optional.empty();
        }
        if (ou.equals(COORDINATOR_UNIT)) {
            return Optional.of(new Coordinator());
        }
        if (ou.equals(NODE_UNIT)) {
            try {
                return Optional.of(new Node(NodeId.of(cn)));
            } catch (RuntimeException notAnId) {
                return Optional.empty();
            }
        }
        return Optional.empty();
    }
}
