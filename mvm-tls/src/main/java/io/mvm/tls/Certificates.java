package io.mvm.tls;

import io.mvm.model.MvmException;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;

/**
 * Key pairs, certificate requests and certificates (BouncyCastle: the JDK has no public API to
 * issue certificates). Keys are ECDSA P-256: small, and generated in milliseconds.
 */
public final class Certificates {
    private static final String SIG = "SHA256withECDSA";
    private static final SecureRandom RANDOM = new SecureRandom();

    private Certificates() {}

    public static KeyPair newKeyPair() {
        try {
            var gen = KeyPairGenerator.getInstance("EC");
            gen.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return gen.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw MvmException.internal("cannot generate an EC key pair", e);
        }
    }

    /** A CSR for {@code keys} (its subject is a hint only: the CA writes the subject it vouches for). */
    public static String csr(KeyPair keys, String subject) {
        try {
            var csr = new JcaPKCS10CertificationRequestBuilder(new X500Principal(subject), keys.getPublic())
                    .build(new JcaContentSignerBuilder(SIG).build(keys.getPrivate()));
            return Pem.encode(csr);
        } catch (OperatorCreationException e) {
            throw MvmException.internal("cannot sign a certificate request", e);
        }
    }

    /** The public key of a CSR whose signature proves its sender holds the private key. */
    public static PublicKey verifiedKey(PKCS10CertificationRequest csr) {
        try {
            var jca = new org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequest(csr);
            var verifier = new org.bouncycastle.operator.jcajce.JcaContentVerifierProviderBuilder()
                    .build(jca.getPublicKey());
            if (!csr.isSignatureValid(verifier)) {
                throw MvmException.invalid("the certificate request's signature does not match its key");
            }
            return jca.getPublicKey();
        } catch (MvmException e) {
            throw e;
        } catch (Exception e) {
            throw MvmException.invalid("unusable certificate request: " + e.getMessage());
        }
    }

    /** A self-signed CA certificate. */
    static X509Certificate selfSignedCa(KeyPair keys, String subject, Instant now, Duration validity) {
        var name = new X500Principal(subject);
        try {
            var b = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minusSeconds(60)),
                    Date.from(now.plus(validity)), name, keys.getPublic());
            var ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()));
            return sign(b, keys.getPrivate());
        } catch (GeneralSecurityException | org.bouncycastle.cert.CertIOException e) {
            throw MvmException.internal("cannot create the cluster CA certificate", e);
        }
    }

    /**
     * A leaf certificate for {@code key} signed by the CA, usable as TLS server and client
     * (the coordinator dials relays, a node's relay serves): {@code sans} are DNS names or IP literals.
     */
    static X509Certificate leaf(X509Certificate ca, PrivateKey caKey, PublicKey key, String subject, List<String> sans,
                                Instant notBefore, Instant notAfter) {
        try {
            var b = new JcaX509v3CertificateBuilder(ca, serial(), Date.from(notBefore), Date.from(notAfter),
                    new X500Principal(subject), key);
            var ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(new KeyPurposeId[] {
                    KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(ca));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(key));
            if (!sans.isEmpty()) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.stream()
                        .map(Certificates::generalName).toArray(GeneralName[]::new)));
            }
            return sign(b, caKey);
        } catch (GeneralSecurityException | org.bouncycastle.cert.CertIOException e) {
            throw MvmException.internal("cannot issue a certificate", e);
        }
    }

    private static GeneralName generalName(String san) {
        boolean ip = san.matches("[0-9.]+") || san.contains(":");
        return new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, san);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(SIG).build(key)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e);
        }
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    /** {@code sha256:<hex>} of the certificate's DER encoding, as printed for pinning. */
    public static String fingerprint(X509Certificate cert) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw MvmException.internal("cannot fingerprint a certificate", e);
        }
    }

    /** The moment from which a certificate should be renewed: two thirds of its lifetime. */
    public static Instant renewAt(X509Certificate cert) {
        Instant from = cert.getNotBefore().toInstant();
        Instant to = cert.getNotAfter().toInstant();
        return from.plus(Duration.between(from, to).multipliedBy(2).dividedBy(3));
    }
}
