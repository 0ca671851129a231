"""``astrolab data fetch``: download a catalog from an archive into a file astrolab reads.

Services (through astroquery, the optional extra ``fetch``: ``pip install "astrolab[fetch]"``):

- ``gaia``: a cone from the Gaia archive (ADQL on ``gaiadr3.gaia_source``) with the columns the Gaia schema
  reads (``dataset=gaia``);
- ``sdss``: SkyServer SQL, a cone of photometry joined with spectroscopic class and redshift
  (``dataset=sdss``), or your own ``--sql``;
- ``vizier``: any VizieR table in a cone (``--catalog I/355/gaiadr3``);
- ``ztf``: ZTF light curves in a cone from the IRSA light-curve service, one row per epoch with
  ``object_id, mjd, mag, mag_err, band`` (``dataset=lightcurves``).

The query is built by pure functions (:func:`gaia_cone_adql`, :func:`sdss_cone_sql`,
:func:`ztf_lightcurve_url`), written next to the output (``<file>.query.txt``) and recorded with the
service, date and row count in a provenance sidecar ``<file>.provenance.json``. Without network the
command ends in one line saying which service could not be reached and how to get the file by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from astrolab.errors import AstrolabError, ConfigError

log = logging.getLogger(__name__)

#: Gaia DR3 columns the Gaia schema reads (astrolab.data.surveys.gaia.CANONICAL) plus quality columns
GAIA_COLUMNS: tuple[str, ...] = (
    "source_id", "ra", "dec", "parallax", "parallax_error", "parallax_over_error", "pmra", "pmra_error", "pmdec",
    "pmdec_error", "radial_velocity", "phot_g_mean_mag", "phot_bp_mean_mag", "phot_rp_mean_mag", "bp_rp", "ruwe",
)
SDSS_BANDS = ("u", "g", "r", "i", "z")

GAIA_TAP = "https://gea.esac.esa.int/tap-server/tap"
GAIA_WEB = "https://gea.esac.esa.int/archive/"
SDSS_WEB = "https://skyserver.sdss.org/dr18/SearchTools/sql"
VIZIER_WEB = "https://vizier.cds.unistra.fr/viz-bin/VizieR"
ZTF_LC_API = "https://irsa.ipac.caltech.edu/cgi-bin/ZTF/nph_light_curves"


class ServiceUnavailableError(AstrolabError):
    """An archive could not be reached (offline, blocked, or down)."""

    exit_code = 3


# -- query building (pure) -----------------------------------------------------------------------------------
def _check_cone(ra: float, dec: float, radius: float, unit: str) -> None:
    if not (math.isfinite(ra) and 0 <= ra < 360):
        raise ConfigError(f"--ra {ra}: give a right ascension in degrees, 0 <= ra < 360")
    if not (math.isfinite(dec) and -90 <= dec <= 90):
        raise ConfigError(f"--dec {dec}: give a declination in degrees, -90 <= dec <= 90")
    if not (math.isfinite(radius) and radius > 0):
        raise ConfigError(f"--radius {radius}: give a radius > 0 ({unit})")


def gaia_cone_adql(ra: float, dec: float, radius_deg: float, columns: Sequence[str] = GAIA_COLUMNS,
                   where: str | None = None, limit: int | None = None,
                   table: str = "gaiadr3.gaia_source") -> str:
    """ADQL for the Gaia sources within ``radius_deg`` of (``ra``, ``dec``) (ICRS, degrees)."""
    _check_cone(ra, dec, radius_deg, "degrees")
    top = f"TOP {int(limit)} " if limit else ""
    cond = f"1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra:.8f}, {dec:.8f}, {radius_deg:.8f}))"
    if where:
        cond += f" AND ({where})"
    return f"SELECT {top}{', '.join(columns)} FROM {table} WHERE {cond}"


def sdss_cone_sql(ra: float, dec: float, radius_arcmin: float, limit: int | None = None,
                  spectroscopic_only: bool = True) -> str:
    """SkyServer SQL: PSF and model magnitudes (+ errors), Petrosian radius, and the spectroscopic class and
    redshift of the objects within ``radius_arcmin`` of (``ra``, ``dec``) (the SDSS schema's columns)."""
    _check_cone(ra, dec, radius_arcmin, "arcmin")
    top = f"TOP {int(limit)} " if limit else ""
    mags = ", ".join([f"p.psfMag_{b}" for b in SDSS_BANDS] + [f"p.psfMagErr_{b}" for b in SDSS_BANDS]
                     + [f"p.modelMag_{b}" for b in SDSS_BANDS])
    join = "JOIN" if spectroscopic_only else "LEFT JOIN"
    return (f"SELECT {top}p.objid, p.ra, p.dec, {mags}, p.petroRad_r, s.class, s.z, s.zErr "
            f"FROM PhotoObj AS p JOIN dbo.fGetNearbyObjEq({ra:.8f}, {dec:.8f}, {radius_arcmin:.6f}) AS n "
            f"ON n.objID = p.objID {join} SpecObj AS s ON s.bestObjID = p.objID")


def ztf_lightcurve_url(ra: float, dec: float, radius_arcsec: float, bands: Sequence[str] = ("g", "r"),
                       fmt: str = "csv") -> str:
    """The IRSA ZTF light-curve API query for every object within ``radius_arcsec`` of (``ra``, ``dec``)."""
    from urllib.parse import urlencode

    _check_cone(ra, dec, radius_arcsec, "arcsec")
    if radius_arcsec > 600:
        raise ConfigError(f"--radius {radius_arcsec}: the ZTF light-curve service takes cones up to 600 arcsec")
    params = {"POS": f"CIRCLE {ra:.8f} {dec:.8f} {radius_arcsec / 3600:.8f}", "BANDNAME": ",".join(bands),
              "FORMAT": fmt, "BAD_CATFLAGS_MASK": 32768}
    return f"{ZTF_LC_API}?{urlencode(params)}"


# -- services ---------------------------------------------------------------------------------------------------
@dataclass
class Fetched:
    """A downloaded table and how it was asked for."""

    table: Any
    service: str
    query: str
    url: str


def _astroquery(module: str):
    import contextlib
    import importlib
    import io

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # astroquery.gaia prints archive status on import
            return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("astroquery"):
            raise ConfigError('astrolab data fetch needs astroquery: pip install "astrolab[fetch]"') from None
        raise


def fetch_gaia(args: argparse.Namespace) -> Fetched:
    columns = tuple(args.columns.split(",")) if args.columns else GAIA_COLUMNS
    query = gaia_cone_adql(args.ra, args.dec, args.radius, columns, args.where, args.limit)
    gaia = _astroquery("astroquery.gaia").Gaia
    gaia.ROW_LIMIT = -1
    job = gaia.launch_job_async(query, dump_to_file=False, verbose=False)
    return Fetched(job.get_results(), "Gaia archive (ESA)", query, GAIA_TAP)


def fetch_sdss(args: argparse.Namespace) -> Fetched:
    if args.sql:
        query = args.sql
    else:
        if args.ra is None or args.dec is None:
            raise ConfigError("astrolab data fetch sdss: give --ra/--dec/--radius (arcmin) or --sql 'SELECT ...'")
        query = sdss_cone_sql(args.ra, args.dec, args.radius, args.limit)
    sdss = _astroquery("astroquery.sdss").SDSS
    table = sdss.query_sql(query, data_release=args.data_release, timeout=args.timeout)
    if table is None:
        from astropy.table import Table

        table = Table()
    return Fetched(table, f"SDSS SkyServer DR{args.data_release}", query, SDSS_WEB)


def fetch_vizier(args: argparse.Namespace) -> Fetched:
    if not args.catalog:
        raise ConfigError("astrolab data fetch vizier: give --catalog, e.g. --catalog I/355/gaiadr3")
    _check_cone(args.ra, args.dec, args.radius, "arcmin")
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    vizier_mod = _astroquery("astroquery.vizier")
    viz = vizier_mod.Vizier(columns=args.columns.split(",") if args.columns else ["**"], row_limit=args.limit or -1)
    coord = SkyCoord(args.ra * u.deg, args.dec * u.deg, frame="icrs")
    result = viz.query_region(coord, radius=args.radius * u.arcmin, catalog=args.catalog)
    if len(result) == 0:
        from astropy.table import Table

        return Fetched(Table(), "VizieR (CDS)", _vizier_query(args), VIZIER_WEB)
    return Fetched(result[0], "VizieR (CDS)", _vizier_query(args), VIZIER_WEB)


def _vizier_query(args: argparse.Namespace) -> str:
    return (f"catalog={args.catalog} cone ra={args.ra} dec={args.dec} radius={args.radius} arcmin "
            f"columns={args.columns or '**'}")


def fetch_ztf(args: argparse.Namespace) -> Fetched:
    import io
    import urllib.request

    from astropy.table import Table

    url = ztf_lightcurve_url(args.ra, args.dec, args.radius)
    with urllib.request.urlopen(url, timeout=args.timeout) as resp:  # noqa: S310 - a fixed https service
        text = resp.read().decode()
    table = Table.read(io.StringIO(text), format="ascii.csv") if text.strip() else Table()
    return Fetched(ztf_to_epochs(table), "IRSA ZTF light curves", url, ZTF_LC_API)


def ztf_to_epochs(table):
    """IRSA's ZTF columns (oid, mjd, mag, magerr, filtercode zg/zr/zi, catflags) with the light-curve
    schema's names added (object_id, mag_err, band g/r/i); bad epochs (catflags != 0) dropped."""
    import numpy as np

    if len(table) == 0:
        return table
    if "catflags" in table.colnames:
        table = table[np.asarray(table["catflags"]) == 0]
    if "oid" in table.colnames:
        table["object_id"] = table["oid"]
    if "magerr" in table.colnames:
        table["mag_err"] = table["magerr"]
    if "filtercode" in table.colnames:
        table["band"] = [str(f)[1:] if str(f).startswith("z") else str(f) for f in table["filtercode"]]
    return table


SERVICES: dict[str, tuple[Callable[[argparse.Namespace], Fetched], str]] = {
    "gaia": (fetch_gaia, "the Gaia archive"),
    "sdss": (fetch_sdss, "SDSS SkyServer"),
    "vizier": (fetch_vizier, "VizieR"),
    "ztf": (fetch_ztf, "the IRSA ZTF light-curve service"),
}

#: how to get the file by hand when the service cannot be reached (``{query}``: the saved query file)
BY_HAND = {
    "gaia": f"open {GAIA_WEB} > Search > Advanced (ADQL), paste the query saved in {{query}}, download the result "
            "(FITS or VOTable)",
    "sdss": f"open {SDSS_WEB}, paste the query saved in {{query}}, choose CSV and save the result",
    "vizier": f"open {VIZIER_WEB}, search the catalog in a cone as saved in {{query}}, and download it as VOTable "
              "or FITS",
    "ztf": "open the URL saved in {query} in a browser (or curl -o lc.csv '<URL>')",
}


def _is_network_error(exc: BaseException) -> bool:
    import socket
    import urllib.error

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (urllib.error.URLError, socket.timeout, socket.gaierror, ConnectionError, TimeoutError)):
            return True
        name = type(exc).__name__
        if name in ("ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "HTTPError", "RemoteServiceError",
                    "NewConnectionError", "MaxRetryError", "SSLError", "ProxyError"):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def run_fetch(args: argparse.Namespace) -> Path:
    """Fetch, write the table in the format of ``args.output``'s suffix, the query and the provenance."""
    from astrolab import __version__
    from astrolab.data.io import write_table

    out = Path(args.output).expanduser()
    if out.exists() and not args.overwrite:
        raise ConfigError(f"'{out}' exists; choose another -o/--output or add --overwrite")
    fn, label = SERVICES[args.service]
    query_file = out.with_name(out.name + ".query.txt")
    try:
        fetched = fn(args)
    except AstrolabError:
        raise
    except Exception as exc:
        if not _is_network_error(exc):
            raise
        query_file.parent.mkdir(parents=True, exist_ok=True)
        query_file.write_text(_query_text(args) + "\n")
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise ServiceUnavailableError(
            f"could not reach {label} ({reason}); get the file by hand: "
            f"{BY_HAND[args.service].format(query=query_file)}, then use it with dataset.path=<file>") from exc
    table = fetched.table
    write_table(table, out)
    query_file.write_text(fetched.query + "\n")
    provenance = {
        "service": fetched.service,
        "url": fetched.url,
        "query": fetched.query,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": len(table),
        "columns": list(getattr(table, "colnames", [])),
        "file": out.name,
        "astrolab_version": __version__,
        "astroquery_version": _version("astroquery"),
    }
    sidecar = out.with_name(out.name + ".provenance.json")
    tmp = sidecar.with_name(f".{sidecar.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(provenance, indent=2))
    os.replace(tmp, sidecar)
    log.info("wrote %d rows from %s to %s (provenance: %s)", len(table), fetched.service, out, sidecar.name)
    return out


def _query_text(args: argparse.Namespace) -> str:
    """The query a service would have been sent (also when it cannot be reached)."""
    if args.service == "gaia":
        cols = tuple(args.columns.split(",")) if args.columns else GAIA_COLUMNS
        return gaia_cone_adql(args.ra, args.dec, args.radius, cols, args.where, args.limit)
    if args.service == "sdss":
        return args.sql or sdss_cone_sql(args.ra, args.dec, args.radius, args.limit)
    if args.service == "ztf":
        return ztf_lightcurve_url(args.ra, args.dec, args.radius)
    return _vizier_query(args)


def _version(module: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return None


# -- command line ---------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, astrolab style, instead of argparse's usage block
        raise ConfigError(f"{self.prog}: {message} (astrolab data fetch --help)")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="astrolab data fetch", description="Download a catalog from an archive (needs network and "
                "the fetch extra: pip install \"astrolab[fetch]\"); writes FILE, FILE.query.txt and "
                "FILE.provenance.json.")
    p.add_argument("service", choices=sorted(SERVICES), help="gaia | sdss | vizier | ztf")
    p.add_argument("--ra", type=float, help="cone centre, right ascension [deg] (ICRS)")
    p.add_argument("--dec", type=float, help="cone centre, declination [deg] (ICRS)")
    p.add_argument("--radius", type=float, help="cone radius: gaia [deg], sdss and vizier [arcmin], ztf [arcsec]")
    p.add_argument("-o", "--output", required=True, help="output file; the suffix picks the format "
                   "(.fits, .csv, .ecsv, .vot, .parquet)")
    p.add_argument("--columns", help="comma-separated columns (gaia: default the Gaia schema's; vizier: default all)")
    p.add_argument("--where", help="gaia: extra ADQL condition, e.g. 'parallax_over_error > 5'")
    p.add_argument("--limit", type=int, help="at most this many rows")
    p.add_argument("--sql", help="sdss: your own SkyServer SQL instead of the cone")
    p.add_argument("--catalog", help="vizier: the catalog, e.g. I/355/gaiadr3")
    p.add_argument("--data-release", type=int, default=18, help="sdss: data release (default 18)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the service")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return p


def fetch_command(argv: list[str]) -> Path:
    """``astrolab data fetch SERVICE ...`` (argv after ``fetch``)."""
    args = parser().parse_args(argv)
    if args.service != "sdss" or not args.sql:
        missing = [f"--{k}" for k in ("ra", "dec", "radius") if getattr(args, k) is None]
        if missing:
            raise ConfigError(f"astrolab data fetch {args.service}: give {', '.join(missing)} (the cone)")
    return run_fetch(args)


def data_command(argv: list[str]) -> None:
    """``astrolab data <subcommand>``; today: ``fetch``."""
    if not argv or argv[0] in ("-h", "--help"):
        import sys

        sys.stdout.write("usage: astrolab data fetch {gaia,sdss,vizier,ztf} --ra RA --dec DEC --radius R -o FILE\n"
                         "       astrolab data fetch --help\n")
        return
    if argv[0] != "fetch":
        raise ConfigError(f"unknown subcommand 'data {argv[0]}'; use: astrolab data fetch ...")
    if len(argv) > 1 and argv[1] in ("-h", "--help"):
        parser().print_help()
        return
    fetch_command(argv[1:])
