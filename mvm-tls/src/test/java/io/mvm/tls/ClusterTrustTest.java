package io.mvm.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterTrustTest {
    private static final Instant NOW = Instant.parse("2026-12-03T12:00:00Z");
    private final ClusterCa ca = ClusterCa.create(NOW, Duration.ofDays(365));

    private X509Certificate[] node(ClusterCa by, String id, Duration validity) {
        var keys = Certificates.newKeyPair();
        var cert = by.issueNode(NodeId.of(id), Certificates.csr(keys, "CN=whatever-i-like,OU=coordinator,O=mvm"), NOW,
                validity);
        return new X509Certificate[] {cert, by.certificate()};
    }

    @Test
    void aNodeCertificateNamesItsNodeWhateverTheCsrAskedFor() throws Exception {
        var chain = node(ca, "node-a", Duration.ofDays(30));
        assertThat(ClusterTrust.anyMember(ca.certificate(), InstantSource.fixed(NOW)).check(chain))
                .isEqualTo(new PeerIdentity.Node(NodeId.of("node-a")));
        // The CSR asked to be the coordinator: a node's certificate never passes for it.
        assertThatThrownBy(() -> ClusterTrust.coordinator(ca.certificate(), InstantSource.fixed(NOW)).check(chain))
                .isInstanceOf(CertificateException.class).hasMessageContaining("does not belong to the coordinator");
    }

    @Test
    void foreignAndExpiredCertificatesAreRefused() {
        var foreign = node(ClusterCa.create(NOW, Duration.ofDays(365)), "node-a", Duration.ofDays(30));
        var trust = ClusterTrust.anyMember(ca.certificate(), InstantSource.fixed(NOW));
        assertThatThrownBy(() -> trust.check(foreign)).hasMessageContaining("not signed by this cluster's CA");
        var shortLived = node(ca, "node-a", Duration.ofMinutes(10));
        var later = ClusterTrust.anyMember(ca.certificate(), InstantSource.fixed(NOW.plus(Duration.ofMinutes(11))));
        assertThatThrownBy(() -> later.check(shortLived)).hasMessageContaining("is not valid at");
    }

    @Test
    void aCsrWhoseSignatureDoesNotMatchItsKeyIsRefused() {
        var keys = Certificates.newKeyPair();
        var other = Certificates.newKeyPair();
        String csr = Certificates.csr(keys, "CN=x");
        // A CSR signed by another key than the one it carries: build one by swapping the key.
        var forged = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder(
                new javax.security.auth.x500.X500Principal("CN=x"), keys.getPublic());
        String forgedPem;
        try {
            forgedPem = Pem.encode(forged.build(new org.bouncycastle.operator.jcajce.JcaContentSignerBuilder(
                    "SHA256withECDSA").build(other.getPrivate())));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertThat(ca.issueNode(NodeId.of("n"), csr, NOW, Duration.ofDays(1))).isNotNull();
        assertThatThrownBy(() -> ca.issueNode(NodeId.of("n"), forgedPem, NOW, Duration.ofDays(1)))
                .isInstanceOf(MvmException.class).hasMessageContaining("signature");
        assertThatThrownBy(() -> ca.issueNode(NodeId.of("n"), "not a csr", NOW, Duration.ofDays(1)))
                .isInstanceOf(MvmException.class);
    }

    @Test
    void theCaIsCreatedOnceWithAPrivateKeyFileAndLoadedAfterwards(@TempDir Path dir) throws Exception {
        var first = ClusterCa.loadOrCreate(dir, NOW);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca.key"))))
                .isEqualTo("rw-------");
        var again = ClusterCa.loadOrCreate(dir, NOW.plusSeconds(5));
        assertThat(again.fingerprint()).isEqualTo(first.fingerprint());
        assertThat(again.relayKey()).isEqualTo(first.relayKey());
        Files.setPosixFilePermissions(dir.resolve("ca.key"), PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> ClusterCa.loadOrCreate(dir, NOW)).hasMessageContaining("readable by others");
    }

    @Test
    void theCoordinatorCertificateCarriesItsAddresses() throws Exception {
        var loaded = ca.issueCoordinator(List.of("localhost", "127.0.0.1", "::1"), NOW, Duration.ofDays(30));
        assertThat(loaded.leaf().getSubjectAlternativeNames()).extracting(l -> l.get(1).toString())
                .contains("localhost", "127.0.0.1");
        assertThat(ClusterTrust.coordinator(ca.certificate(), InstantSource.fixed(NOW))
                .check(loaded.chain().toArray(X509Certificate[]::new))).isEqualTo(new PeerIdentity.Coordinator());
        assertThat(loaded.renewAt()).isBetween(NOW.plus(Duration.ofDays(19)), NOW.plus(Duration.ofDays(21)));
    }
}
