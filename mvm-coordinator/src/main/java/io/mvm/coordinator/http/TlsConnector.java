package io.mvm.coordinator.http;

import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * A Jetty HTTPS connector over an SSLContext built by mvm (whose key manager swaps renewed
 * certificates in place, so nothing here is reloaded). No SNI host check: agents dial addresses,
 * and peers are identified by the identity in their certificate.
 */
final class TlsConnector {
    private TlsConnector() {}

    static Connector create(Server server, HttpConfiguration http, SSLContext ctx, String host, int port,
                            boolean needClientAuth) {
        var ssl = new SslContextFactory.Server();
        ssl.setSslContext(ctx);
        ssl.setSniRequired(false);
        if (needClientAuth) {
            ssl.setNeedClientAuth(true);
        } else {
            ssl.setWantClientAuth(true);
        }
        var https = new HttpConfiguration(http);
        var customizer = new SecureRequestCustomizer();
        customizer.setSniHostCheck(false);
        https.addCustomizer(customizer);
        var connector = new ServerConnector(server, new SslConnectionFactory(ssl, "http/1.1"),
                new HttpConnectionFactory(https));
        connector.setHost(host);
        connector.setPort(port);
        return connector;
    }

    /** The verified certificate chain the caller presented (null without TLS or without one). */
    static X509Certificate[] peerCertificates(jakarta.servlet.http.HttpServletRequest req) {
        Object certs = req.getAttribute("jakarta.servlet.request.X509Certificate");
        if (certs instanceof X509Certificate[] chain && chain.length > 0) {
            return chain;
        }
        Object data = req.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
        if (data instanceof EndPoint.SslSessionData d && d.peerCertificates() != null) {
            return d.peerCertificates();
        }
        return null;
    }
}
