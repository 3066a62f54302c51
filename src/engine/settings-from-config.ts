import type { Settings } from '../config/settings.js'
import type { EngineSettings } from './settings.js'

export function engineSettingsFrom (settings: Settings): EngineSettings {
  return {
    port: settings.port,
    listenHost: settings.listenHost,
    tcp: settings.tcp,
    utp: settings.utp,
    encryption: settings.encryption,
    encryptPayload: settings.encryptPayload,
    dht: settings.dht,
    dhtBootstrap: settings.dhtBootstrap ?? undefined,
    lsd: settings.lsd,
    pex: settings.pex,
    uploadLimit: settings.uploadLimit,
    downloadLimit: settings.downloadLimit,
    maxPeersPerTorrent: settings.maxPeersPerTorrent,
    maxHalfOpenConnections: settings.maxHalfOpenConnections,
    choker: {
      slots: settings.uploadSlots,
      optimisticSlots: settings.optimisticSlots,
      optimisticIntervalMs: settings.optimisticUnchokeIntervalSeconds * 1000,
      hysteresis: settings.chokerHysteresis
    },
    rechokeIntervalMs: settings.rechokeIntervalSeconds * 1000,
    requestTimeoutMs: settings.requestTimeoutSeconds * 1000,
    snubTimeoutMs: settings.snubTimeoutSeconds * 1000,
    banAfterHashFailures: settings.banAfterHashFailures,
    pieceCacheBytes: settings.pieceCacheSize,
    maxInFlightBytes: settings.maxInFlightSize,
    announceIntervalMs: settings.announceIntervalSeconds * 1000,
    webSeedsAllowPrivate: settings.webSeedsAllowPrivate
  }
}
