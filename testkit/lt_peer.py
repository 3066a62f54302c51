#!/usr/bin/python3
"""A libtorrent (rasterbar) peer for interop tests: seeds or downloads one torrent on 127.0.0.1.

Prints one JSON object per line on stdout: {"event": "listening", "port": N} once, then
{"event": "progress", ...} every half second and {"event": "done", ...} when a download completes.
Run with Debian's /usr/bin/python3 (a pyenv python cannot import the Debian module).
"""
import argparse
import json
import signal
import sys
import time

import libtorrent as lt


def emit(**fields):
    print(json.dumps(fields), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--mode', choices=['seed', 'download'], required=True)
    parser.add_argument('--torrent', help='.torrent file')
    parser.add_argument('--magnet', help='magnet link (download only)')
    parser.add_argument('--save', required=True, help='save path')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--listen', default='127.0.0.1', help='address to listen on')
    parser.add_argument('--peer', action='append', default=[], help='HOST:PORT to connect to')
    parser.add_argument('--timeout', type=float, default=600)
    parser.add_argument('--plaintext', action='store_true', help='never try an encrypted (MSE) handshake first')
    parser.add_argument('--encryption', choices=['forced-any', 'forced-rc4'], help='connect only through MSE; rc4 also encrypts the payload')
    parser.add_argument('--transport', choices=['tcp', 'utp', 'both'], default='tcp', help='uTP over loopback crawls (ANCHORS.md): TCP unless asked')
    parser.add_argument('--linger', action='store_true', help='after a download completes, stay up until SIGTERM (so /proc can be read)')
    parser.add_argument('--report-interval', type=float, default=0.5, help='seconds between progress lines')
    parser.add_argument('--upload-limit', type=int, default=0, help='bytes per second; loopback peers are then treated as internet peers (limits and unchoke slots apply)')
    args = parser.parse_args()

    session = lt.session({
        'listen_interfaces': '%s:%d' % (args.listen, args.port),
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'enable_outgoing_utp': args.transport != 'tcp',
        'enable_incoming_utp': args.transport != 'tcp',
        'enable_outgoing_tcp': args.transport != 'utp',
        'enable_incoming_tcp': args.transport != 'utp',
        'allow_multiple_connections_per_ip': True,
        'user_agent': 'libtorrent-interop/' + lt.__version__,
        'alert_mask': lt.alert.category_t.error_notification,
    })
    if args.plaintext:
        session.apply_settings({'out_enc_policy': lt.enc_policy.disabled, 'in_enc_policy': lt.enc_policy.disabled})
    if args.encryption:
        session.apply_settings({
            'out_enc_policy': lt.enc_policy.forced,
            'in_enc_policy': lt.enc_policy.forced,
            'allowed_enc_level': lt.enc_level.rc4 if args.encryption == 'forced-rc4' else lt.enc_level.both,
        })
    if args.upload_limit > 0:
        # libtorrent exempts local peers from rate limits and unchoke slots: on 127.0.0.1 every
        # peer is local, so put them under the same rules as peers on the internet.
        local = session.get_peer_class(session.local_peer_class_id)
        local['upload_limit'] = args.upload_limit
        local['ignore_unchoke_slots'] = False
        local['connection_limit_factor'] = 100
        session.set_peer_class(session.local_peer_class_id, local)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    if args.magnet:
        params = lt.parse_magnet_uri(args.magnet)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.save
    added_at = time.time()
    handle = session.add_torrent(params)
    emit(event='listening', port=session.listen_port())
    for peer in args.peer:
        host, port = peer.rsplit(':', 1)
        handle.connect_peer((host, int(port)))

    deadline = time.time() + args.timeout
    last_report = 0
    while time.time() < deadline:
        status = handle.status()
        for alert in session.pop_alerts():
            emit(event='alert', message=alert.message())
        if time.time() - last_report > args.report_interval:
            last_report = time.time()
            emit(event='progress', at=time.time(), state=str(status.state), progress=status.progress,
                 downloaded=status.total_payload_download, uploaded=status.total_payload_upload,
                 peers=status.num_peers, seeding=status.is_seeding)
        if args.mode == 'download' and status.is_seeding:
            emit(event='done', at=time.time(), elapsed=time.time() - added_at, downloaded=status.total_payload_download,
                 failed=status.total_failed_bytes, redundant=status.total_redundant_bytes)
            while args.linger:
                time.sleep(1)
            return 0
        time.sleep(0.02 if args.mode == 'download' else 0.2)
    emit(event='timeout')
    return 1


if __name__ == '__main__':
    sys.exit(main())
