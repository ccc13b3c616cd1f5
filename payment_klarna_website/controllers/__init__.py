from . import express, osm
