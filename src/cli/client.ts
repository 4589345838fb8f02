#!/usr/bin/env node
import './early'
import { runProgram } from './run'
import { client } from './programs'

void runProgram(client, process.argv.slice(2))
