#!/usr/bin/python3
"""Makes a .torrent with libtorrent's create_torrent (v1, v2 or hybrid) and prints its info hashes as JSON.

Run with Debian's /usr/bin/python3: python3 lt_create.py --format v2 --piece-length 32768 FOLDER OUT.torrent
"""
import argparse
import json
import os

import libtorrent as lt


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--format', choices=['v1', 'v2', 'hybrid'], required=True)
    parser.add_argument('--piece-length', type=int, default=0)
    parser.add_argument('path')
    parser.add_argument('out')
    args = parser.parse_args()
    fs = lt.file_storage()
    flags = {'v1': lt.create_torrent.v1_only, 'v2': lt.create_torrent.v2_only, 'hybrid': 0}[args.format]
    lt.add_files(fs, args.path)
    torrent = lt.create_torrent(fs, args.piece_length, flags=flags)
    lt.set_piece_hashes(torrent, os.path.dirname(os.path.abspath(args.path)))
    data = lt.bencode(torrent.generate())
    with open(args.out, 'wb') as out:
        out.write(data)
    info = lt.torrent_info(args.out)
    hashes = info.info_hashes()
    print(json.dumps({
        'v1': str(hashes.v1) if hashes.has_v1() else None,
        'v2': str(hashes.v2) if hashes.has_v2() else None,
    }), flush=True)


if __name__ == '__main__':
    main()
