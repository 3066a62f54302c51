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
    parser.add_argument('--peer', action='append', default=[], help='HOST:PORT to connect to')
    parser.add_argument('--timeout', type=float, default=600)
    args = parser.parse_args()

    session = lt.session({
        'listen_interfaces': '127.0.0.1:%d' % args.port,
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        # uTP over loopback crawls (ANCHORS.md): TCP only.
        'enable_outgoing_utp': False,
        'enable_incoming_utp': False,
        'allow_multiple_connections_per_ip': True,
        'user_agent': 'libtorrent-interop/' + lt.__version__,
        'alert_mask': lt.alert.category_t.error_notification,
    })
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    if args.magnet:
        params = lt.parse_magnet_uri(args.magnet)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.save
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
        if time.time() - last_report > 0.5:
            last_report = time.time()
            emit(event='progress', state=str(status.state), progress=status.progress,
                 downloaded=status.total_payload_download, uploaded=status.total_payload_upload,
                 peers=status.num_peers, seeding=status.is_seeding)
        if args.mode == 'download' and status.is_seeding:
            emit(event='done', downloaded=status.total_payload_download,
                 failed=status.total_failed_bytes, redundant=status.total_redundant_bytes)
            return 0
        time.sleep(0.1)
    emit(event='timeout')
    return 1


if __name__ == '__main__':
    sys.exit(main())
